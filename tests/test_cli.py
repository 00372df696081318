"""The operator commands of `hubstream`, against a real database and broker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.cli import main


@pytest.fixture
def operator_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUBSTREAM_HOME", str(tmp_path))  # no stack runs from here
    monkeypatch.setenv("HUBSTREAM_DATABASE_URL", database_url)
    monkeypatch.setenv("HUBSTREAM_KAFKA", kafka_bootstrap)
    monkeypatch.setenv("HUBSTREAM_TOPIC_PREFIX", topic_prefix)


@pytest.mark.usefixtures("operator_env")
def test_users_orgs_and_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert "migration(s) applied" in capsys.readouterr().out

    assert main(["users", "create", "alice", "--fullname", "Alice"]) == 0
    out = capsys.readouterr().out
    token_id = re.search(r"\(id ([0-9a-f]+)\)", out).group(1)  # type: ignore[union-attr]
    assert re.search(r"user alice created; token hf_\S+", out)

    assert main(["users", "create", "alice", "--token", "hf_chosen_token_0123456789"]) == 0
    assert "user alice exists; token hf_chosen_token_0123456789" in capsys.readouterr().out

    assert main(["orgs", "create", "acme", "--member", "alice", "--role", "write"]) == 0
    assert "organization acme created with alice as write" in capsys.readouterr().out

    assert main(["tokens", "list", "alice"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("active") == 2

    assert main(["tokens", "revoke", token_id]) == 0
    assert f"token {token_id} revoked" in capsys.readouterr().out
    assert main(["tokens", "revoke", token_id]) == 1
    assert f"no active token with id {token_id}" in capsys.readouterr().err

    assert main(["users", "create", "no good"]) == 1
    assert "user name 'no good' is invalid" in capsys.readouterr().err
    assert main(["orgs", "create", "alice"]) == 1
    assert "'alice' is already the name of a user" in capsys.readouterr().err
    assert main(["tokens", "create", "nobody"]) == 1
    assert "no user named 'nobody'" in capsys.readouterr().err


@pytest.mark.usefixtures("operator_env")
def test_unknown_names_are_refused_with_what_is_known(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "catalogue"]) == 2
    assert "unknown service(s) catalogue" in capsys.readouterr().out
    assert main(["events", "tail", "hubstream.nothing"]) == 2
    assert "known topics: hubstream.catalog.repos" in capsys.readouterr().err


def test_a_missing_database_is_reported_in_words(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("HUBSTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("HUBSTREAM_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    assert main(["users", "create", "bob"]) == 1
    assert "is not reachable" in capsys.readouterr().err


@pytest.mark.usefixtures("operator_env")
def test_a_revoked_token_is_never_registered_again_and_admin_gets_a_new_one(capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from deploy.layout import operator_settings
    from services.operator import ensure_admin

    token = "hf_admin_token_to_revoke_0123456789"
    assert asyncio.run(ensure_admin(operator_settings(), token)) == token
    assert main(["tokens", "list", "admin"]) == 0
    token_id = capsys.readouterr().out.split()[0]
    assert main(["tokens", "revoke", token_id]) == 0

    assert main(["users", "create", "admin", "--token", token]) == 1
    assert "was revoked; a revoked token is never valid again" in capsys.readouterr().err
    fresh = asyncio.run(ensure_admin(operator_settings(), token))  # what `up` does with the saved token
    assert fresh != token
    assert fresh.startswith("hf_")


@pytest.mark.parametrize(("name", "option"), [("events", "--events"), ("faults", "--rate"), ("versioning", "--sizes")])
def test_bench_hands_each_benchmark_its_own_options(name: str, option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["bench", name, "--help"])  # the benchmark's own parser answers, not hubstream's
    assert exit.value.code == 0
    assert option in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert name in capsys.readouterr().out  # listed by `hubstream bench --help`
