"""Papers registered with `hubstream papers add`, read back through the unmodified `huggingface_hub` client
(`paper_info`, `list_papers`, `list_daily_papers`), and the repos whose cards tag them (`/api/arxiv/{id}/repos`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from services.cli import main
from tests.catalog.conftest import Catalog


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, database_url: str, kafka_bootstrap: str, topic_prefix: str) -> None:
    """`hubstream` commands reach the test's catalog database."""
    monkeypatch.setenv("HUBSTREAM_DATABASE_URL", database_url)
    monkeypatch.setenv("HUBSTREAM_KAFKA", kafka_bootstrap)
    monkeypatch.setenv("HUBSTREAM_TOPIC_PREFIX", topic_prefix)


def _card(*tags: str) -> bytes:
    return ("---\ntags:\n" + "".join(f"- {t}\n" for t in tags) + "---\n# A card\n").encode()


@pytest.mark.usefixtures("operator_env")
async def test_papers_from_the_cli_through_the_hub_client(catalog: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    alice = await catalog.user("alice")
    bob = await catalog.user("bob")

    def hubstream(*argv: str) -> int:
        return main(list(argv))

    # -- registering: three papers, two of them daily papers; bad input is refused in words ----------------------
    add = ["papers", "add"]
    assert await asyncio.to_thread(
        hubstream, *add, "2307.09288", "--title", "Llama 2: Open Foundation and Fine-Tuned Chat Models",
        "--summary", "We develop and release Llama 2.", "--author", "Hugo Touvron", "--author", "Louis Martin",
        "--published", "2023-07-18", "--daily", "2024-03-01", "--submitted-by", "alice",
        "--github-repo", "https://github.com/example/llama",
    ) == 0  # fmt: skip
    assert "paper 2307.09288 added" in capsys.readouterr().out
    assert await asyncio.to_thread(hubstream, *add, "2401.00001", "--title", "Tiny Models", "--published",
                                   "2024-01-01", "--daily", "2024-03-05") == 0  # fmt: skip
    assert await asyncio.to_thread(hubstream, *add, "2402.00002", "--title", "Not Daily", "--published",
                                   "2024-02-02") == 0  # fmt: skip
    capsys.readouterr()
    assert await asyncio.to_thread(hubstream, *add, "not-an-id", "--title", "x", "--published", "2024-01-01") == 2
    assert "not an arXiv id" in capsys.readouterr().err
    assert await asyncio.to_thread(hubstream, *add, "2402.00003", "--title", "x", "--published", "yesterday") == 2
    assert "invalid date" in capsys.readouterr().err
    assert await asyncio.to_thread(hubstream, "papers", "remove", "2402.00003") == 1
    assert "no paper 2402.00003" in capsys.readouterr().err

    api = HfApi(endpoint=catalog.url, token=alice)
    anonymous = HfApi(endpoint=catalog.url, token=False)

    def session() -> None:
        # -- paper_info ---------------------------------------------------------------------------------------------
        paper = anonymous.paper_info("2307.09288")
        assert paper.id == "2307.09288"
        assert paper.title == "Llama 2: Open Foundation and Fine-Tuned Chat Models"
        assert paper.summary == "We develop and release Llama 2."
        assert [a.name for a in paper.authors or []] == ["Hugo Touvron", "Louis Martin"]
        assert paper.published_at == datetime(2023, 7, 18, tzinfo=UTC)
        assert paper.submitted_at == datetime(2024, 3, 1, tzinfo=UTC)
        assert paper.submitted_by is not None
        assert paper.submitted_by.username == "alice"
        assert paper.github_repo == "https://github.com/example/llama"
        with pytest.raises(HfHubHTTPError) as exc:
            anonymous.paper_info("9999.99999")
        assert (exc.value.response.status_code, exc.value.response.headers["X-Error-Code"]) == (404, "PaperNotFound")

        page = anonymous.read_paper("2307.09288")
        assert page.startswith("# Llama 2: Open Foundation and Fine-Tuned Chat Models\n")
        assert "Hugo Touvron, Louis Martin" in page
        assert "We develop and release Llama 2." in page
        with pytest.raises(HfHubHTTPError) as exc:
            anonymous.read_paper("9999.99999")
        assert exc.value.response.status_code == 404

        # -- search and daily papers --------------------------------------------------------------------------------
        assert [p.id for p in api.list_papers(query="llama")] == ["2307.09288"]
        assert [p.id for p in api.list_papers(query="2401")] == ["2401.00001"]
        assert list(api.list_papers(query="nothing like it")) == []
        daily = list(api.list_daily_papers())
        assert [p.id for p in daily] == ["2401.00001", "2307.09288"]  # newest submission first; not-daily absent
        assert daily[1].submitted_at == datetime(2024, 3, 1, tzinfo=UTC)
        assert daily[1].title == "Llama 2: Open Foundation and Fine-Tuned Chat Models"
        assert [p.id for p in api.list_daily_papers(date="2024-03-01")] == ["2307.09288"]
        assert [p.id for p in api.list_daily_papers(week="2024-W09")] == ["2307.09288"]  # Feb 26 - Mar 3
        assert [p.id for p in api.list_daily_papers(month="2024-03", limit=1)] == ["2401.00001"]
        assert [p.id for p in api.list_daily_papers(month="2024-03", limit=1, p=1)] == ["2307.09288"]
        assert [p.id for p in api.list_daily_papers(submitter="alice", sort="trending")] == ["2307.09288"]
        with pytest.raises(HfHubHTTPError) as exc:
            list(api.list_daily_papers(date="2024-02-30"))
        assert exc.value.response.status_code == 400

        # -- repos whose cards tag the paper ------------------------------------------------------------------------
        api.create_repo("alice/llama-ft")
        api.upload_file(path_or_fileobj=_card("arxiv:2307.09288"), path_in_repo="README.md", repo_id="alice/llama-ft")
        api.create_repo("alice/llama-data", repo_type="dataset", private=True)
        api.upload_file(
            path_or_fileobj=_card("arxiv:2307.09288", "text"),
            path_in_repo="README.md",
            repo_id="alice/llama-data",
            repo_type="dataset",
        )
        api.create_repo("alice/other")
        api.upload_file(path_or_fileobj=_card("arxiv:2401.00001"), path_in_repo="README.md", repo_id="alice/other")

    await asyncio.to_thread(session)
    status, _, body = await catalog.call("GET", "/api/arxiv/2307.09288/repos")
    assert status == 200
    assert ([m["id"] for m in body["models"]], body["datasets"], body["spaces"]) == (["alice/llama-ft"], [], [])
    _, _, body = await catalog.call("GET", "/api/arxiv/2307.09288/repos", token=alice)
    assert [d["id"] for d in body["datasets"]] == ["alice/llama-data"]  # its owner sees the private one
    _, _, body = await catalog.call("GET", "/api/arxiv/2307.09288/repos", token=bob)
    assert body["datasets"] == []
    status, headers, _ = await catalog.call("GET", "/api/arxiv/not-an-id/repos")
    assert (status, headers["X-Error-Code"]) == (400, "InvalidParameter")

    assert await asyncio.to_thread(hubstream, "papers", "remove", "2401.00001") == 0
    status, headers, _ = await catalog.call("GET", "/api/papers/2401.00001")
    assert (status, headers["X-Error-Code"]) == (404, "PaperNotFound")
