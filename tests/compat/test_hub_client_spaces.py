"""The unmodified `huggingface_hub` client managing spaces: the reported runtime's state machine (hardware, sleep
time, pause, restart), variables, secrets (encrypted at rest, never returned) and duplication."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.fernet import Fernet
from huggingface_hub import HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, RepositoryNotFoundError

from services.catalog.space_secrets import key_path
from tests.catalog.conftest import Catalog

SECRET = "s3cr3t-value-never-shown"


def _code(exc: pytest.ExceptionInfo[HfHubHTTPError]) -> tuple[int, str | None]:
    return exc.value.response.status_code, exc.value.response.headers.get("X-Error-Code")


async def test_space_runtime_variables_and_secrets(catalog: Catalog) -> None:
    alice = await catalog.user("alice")
    bob = await catalog.user("bob")
    api = HfApi(endpoint=catalog.url, token=alice)
    as_bob = HfApi(endpoint=catalog.url, token=bob)

    def session() -> None:
        api.create_repo("alice/app", repo_type="space", space_sdk="gradio")
        api.create_repo("alice/site", repo_type="space", space_sdk="static")
        api.create_repo("alice/hidden", repo_type="space", space_sdk="gradio", private=True)

        # -- the runtime's state machine ------------------------------------------------------------------------
        runtime = as_bob.get_space_runtime("alice/app")  # a public space's runtime is public
        assert (runtime.stage, runtime.hardware, runtime.requested_hardware, runtime.sleep_time) == (
            "RUNNING",
            "cpu-basic",
            "cpu-basic",
            48 * 3600,
        )
        runtime = api.request_space_hardware("alice/app", "t4-medium", sleep_time=3600)
        assert (runtime.stage, runtime.hardware, runtime.requested_hardware, runtime.sleep_time) == (
            "RUNNING",
            "t4-medium",
            "t4-medium",
            3600,
        )
        assert api.set_space_sleep_time("alice/app", -1).sleep_time == -1
        runtime = api.pause_space("alice/app")
        assert (runtime.stage, runtime.hardware, runtime.requested_hardware) == ("PAUSED", None, "t4-medium")
        assert api.get_space_runtime("alice/app").stage == "PAUSED"  # it stays so
        runtime = api.restart_space("alice/app", factory_reboot=True)
        assert (runtime.stage, runtime.hardware, runtime.sleep_time) == ("RUNNING", "t4-medium", -1)
        with pytest.raises(BadRequestError) as exc:
            api.request_space_hardware("alice/app", "quantum-9000")  # type: ignore[arg-type]
        assert _code(exc) == (400, "InvalidParameter")
        with pytest.raises(BadRequestError) as exc:
            api.pause_space("alice/site")
        assert _code(exc) == (400, "StaticSpace")
        with pytest.raises(HfHubHTTPError) as exc:  # bob sees it, but does not manage it
            as_bob.pause_space("alice/app")
        assert _code(exc) == (403, "Forbidden")
        assert api.get_space_runtime("alice/app").stage == "RUNNING"
        with pytest.raises(RepositoryNotFoundError):
            as_bob.get_space_runtime("alice/hidden")
        with pytest.raises(RepositoryNotFoundError):
            api.get_space_runtime("alice/nothing")

        # -- variables -------------------------------------------------------------------------------------------
        added = api.add_space_variable("alice/app", "MODEL_REPO_ID", "alice/m", description="the model")
        assert (added["MODEL_REPO_ID"].value, added["MODEL_REPO_ID"].description) == ("alice/m", "the model")
        assert added["MODEL_REPO_ID"].updated_at is not None
        api.add_space_variable("alice/app", "MODEL_REPO_ID", "alice/m2")
        api.add_space_variable("alice/app", "TEMPORARY", "x")
        variables = api.get_space_variables("alice/app")
        assert {k: v.value for k, v in variables.items()} == {"MODEL_REPO_ID": "alice/m2", "TEMPORARY": "x"}
        assert variables["MODEL_REPO_ID"].description == "the model"  # kept when not given again
        assert set(api.delete_space_variable("alice/app", "TEMPORARY")) == {"MODEL_REPO_ID"}
        with pytest.raises(BadRequestError) as exc:
            api.add_space_variable("alice/app", "1-BAD KEY", "x")
        assert _code(exc) == (400, "InvalidParameter")
        with pytest.raises(HfHubHTTPError) as exc:
            as_bob.get_space_variables("alice/app")
        assert _code(exc) == (403, "Forbidden")

        # -- secrets: stored, listed without values, deleted ------------------------------------------------------
        api.add_space_secret("alice/app", "HF_TOKEN", SECRET, description="a token")
        api.add_space_secret("alice/app", "OTHER", "other-value")
        listed = api.get_space_secrets("alice/app")
        assert set(listed) == {"HF_TOKEN", "OTHER"}
        assert (listed["HF_TOKEN"].description, listed["HF_TOKEN"].updated_at is not None) == ("a token", True)
        api.delete_space_secret("alice/app", "OTHER")
        assert set(api.get_space_secrets("alice/app")) == {"HF_TOKEN"}
        with pytest.raises(HfHubHTTPError) as exc:
            as_bob.add_space_secret("alice/app", "STOLEN", "x")
        assert _code(exc) == (403, "Forbidden")

    await asyncio.to_thread(session)

    # Never returned over HTTP; in the database only as a Fernet token under the state dir's key.
    _, _, body = await catalog.call("GET", "/api/spaces/alice/app/secrets", token=alice)
    assert SECRET not in str(body)
    rows = await catalog.pool.fetch("SELECT key, ciphertext FROM space_secrets")
    assert [r["key"] for r in rows] == ["HF_TOKEN"]
    assert SECRET.encode() not in rows[0]["ciphertext"]
    key = key_path(catalog.config.infra.home)
    assert key.stat().st_mode & 0o077 == 0  # readable by the catalog's user only
    assert Fernet(key.read_bytes()).decrypt(rows[0]["ciphertext"]) == SECRET.encode()


async def test_duplicate_space(catalog: Catalog) -> None:
    alice = await catalog.user("alice")
    bob = await catalog.user("bob")
    api = HfApi(endpoint=catalog.url, token=alice)
    as_bob = HfApi(endpoint=catalog.url, token=bob)

    def session() -> tuple[list[str], list[str]]:
        api.create_repo("alice/app", repo_type="space", space_sdk="gradio")
        api.upload_file(path_or_fileobj=b"print('hi')\n", path_in_repo="app.py", repo_id="alice/app", repo_type="space")
        api.add_space_variable("alice/app", "MODEL_REPO_ID", "alice/m")
        api.add_space_secret("alice/app", "HF_TOKEN", SECRET)
        source_commits = [c.commit_id for c in api.list_repo_commits("alice/app", repo_type="space")]

        url = api.duplicate_repo(
            "alice/app",
            "alice/app-copy",
            repo_type="space",
            space_hardware="t4-small",
            space_sleep_time=600,
            space_secrets=[{"key": "GIVEN", "value": "given-secret"}],
            space_variables=[{"key": "EXTRA", "value": "1", "description": "added at duplication"}],
        )
        assert str(url) == f"{catalog.url}/spaces/alice/app-copy"
        assert sorted(api.list_repo_files("alice/app-copy", repo_type="space")) == [".gitattributes", "app.py"]
        copy_commits = [c.commit_id for c in api.list_repo_commits("alice/app-copy", repo_type="space")]
        assert copy_commits == source_commits  # the history itself, not a new commit of the same files
        assert api.space_info("alice/app-copy").sdk == "gradio"
        assert {k: v.value for k, v in api.get_space_variables("alice/app-copy").items()} == {
            "MODEL_REPO_ID": "alice/m",
            "EXTRA": "1",
        }
        assert set(api.get_space_secrets("alice/app-copy")) == {"GIVEN"}  # secrets are not copied, only given
        runtime = api.get_space_runtime("alice/app-copy")
        assert (runtime.stage, runtime.requested_hardware, runtime.sleep_time) == ("RUNNING", "t4-small", 600)

        with pytest.raises(HfHubHTTPError) as exc:
            api.duplicate_repo("alice/app", "alice/app-copy", repo_type="space")
        assert _code(exc) == (409, "RepoExists")
        assert str(api.duplicate_repo("alice/app", "alice/app-copy", repo_type="space", exist_ok=True)) == str(url)
        # Anyone who can read a public space may copy it into their own namespace (not into someone else's).
        assert str(as_bob.duplicate_repo("alice/app", repo_type="space")) == f"{catalog.url}/spaces/bob/app"
        with pytest.raises(HfHubHTTPError) as exc:
            as_bob.duplicate_repo("alice/app", "alice/bobs-copy", repo_type="space")
        assert _code(exc) == (403, "Forbidden")
        with pytest.raises(RepositoryNotFoundError):
            as_bob.duplicate_repo("alice/nothing", repo_type="space")
        return source_commits, sorted(api.list_repo_files("bob/app", repo_type="space"))

    source_commits, bobs_files = await asyncio.to_thread(session)
    assert bobs_files == [".gitattributes", "app.py"]
    updates = [e for e in await catalog.events("hubstream.catalog.repo.updated.v1") if e["repo_id"] == "alice/app-copy"]
    assert [(e["head_sha"], e["changed_paths"]) for e in updates] == [(source_commits[0], [".gitattributes", "app.py"])]


async def test_a_space_is_created_with_the_hardware_sleep_time_variables_and_secrets_asked_for(
    catalog: Catalog,
) -> None:
    # Found by exploratory testing: create_repo took these with a 200 and kept none of them.
    alice = await catalog.user("alice")
    api = HfApi(endpoint=catalog.url, token=alice)

    def session() -> None:
        api.create_repo(
            "alice/set",
            repo_type="space",
            space_sdk="gradio",
            space_hardware="t4-small",
            space_sleep_time=3600,
            space_variables=[{"key": "A", "value": "1", "description": "first"}],
            space_secrets=[{"key": "S", "value": SECRET}],
        )
        runtime = api.get_space_runtime("alice/set")
        assert (runtime.requested_hardware, runtime.sleep_time) == ("t4-small", 3600)
        variables = api.get_space_variables("alice/set")
        assert {k: (v.value, v.description) for k, v in variables.items()} == {"A": ("1", "first")}
        assert set(api.get_space_secrets("alice/set")) == {"S"}
        # What cannot be set refuses the creation: no space is left behind.
        for bad in ({"space_hardware": "quantum-9000"}, {"space_variables": [{"key": "1bad", "value": "x"}]}):
            with pytest.raises(HfHubHTTPError) as exc:
                api.create_repo("alice/bad", repo_type="space", space_sdk="gradio", **bad)  # type: ignore[arg-type]
            assert _code(exc) == (400, "InvalidParameter")
        with pytest.raises(HfHubHTTPError) as exc:
            api.create_repo("alice/bad", repo_type="space", space_sdk="static", space_hardware="t4-small")
        assert _code(exc) == (400, "StaticSpace")
        assert not api.repo_exists("alice/bad", repo_type="space")

    await asyncio.to_thread(session)
    rows = await catalog.pool.fetch("SELECT key, ciphertext FROM space_secrets")
    assert [r["key"] for r in rows] == ["S"]
    assert SECRET.encode() not in rows[0]["ciphertext"]
