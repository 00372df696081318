"""Our additions: restore as a new version, the environment change log, exports that upload back."""

from __future__ import annotations

import orjson
from aiohttp import FormData

from tests.versioning.conftest import Versioning

POINTS = [
    {"inputs": {"q": "a", "lang": "en"}, "target": {"answer": "A", "score": 1.5}},
    {"inputs": {"q": "b"}, "messages": [{"role": "user", "content": "b, with a comma"}]},
]


async def test_restore_makes_an_old_version_the_newest(versioning: Versioning) -> None:
    v = versioning
    _, v1, _ = await v.call("POST", "/datasets", json={"path": "restore", "datapoints": POINTS})
    _, v2, _ = await v.call("POST", "/datasets", json={"id": v1["id"], "datapoints": [{"inputs": {"q": "c"}}]})
    assert v2["datapoints_count"] == 1
    status, restored, _ = await v.call(
        "POST", f"/datasets/{v1['id']}/versions/{v1['version_id']}/restore", json={"commit_message": "back"}
    )
    assert status == 200, restored
    assert restored["version_id"] not in (v1["version_id"], v2["version_id"])
    assert (restored["datapoints_count"], restored["base_version_id"], restored["status"]) == (
        2,
        v1["version_id"],
        "committed",
    )
    _, latest, _ = await v.call("GET", f"/datasets/{v1['id']}")
    assert latest["version_id"] == restored["version_id"]
    _, again, _ = await v.call("POST", f"/datasets/{v1['id']}/versions/{restored['version_id']}/restore", json={})
    assert again["version_id"] == restored["version_id"]  # already the newest: nothing to do
    assert again["report"]["noop"] is True


async def test_environment_moves_are_logged(versioning: Versioning) -> None:
    v = versioning
    _, v1, _ = await v.call("POST", "/datasets", json={"path": "log", "datapoints": POINTS})
    _, v2, _ = await v.call("POST", "/datasets", json={"id": v1["id"], "datapoints": POINTS[:1]})
    for version in (v1, v2):
        await v.call(
            "POST", f"/datasets/{v1['id']}/environments/production", params={"version_id": version["version_id"]}
        )
    await v.call("DELETE", f"/datasets/{v1['id']}/environments/env_production")
    status, log, _ = await v.call("GET", f"/datasets/{v1['id']}/environments/history")
    assert status == 200
    moves = [(m["environment"], m["from_version_id"], m["to_version_id"], m["moved_by"]) for m in log["records"]]
    assert moves == [
        ("production", v2["version_id"], None, "alice"),
        ("production", v1["version_id"], v2["version_id"], "alice"),
        ("production", None, v1["version_id"], "alice"),
    ]


async def test_exports_read_back_as_the_same_version(versioning: Versioning) -> None:
    v = versioning
    _, v1, _ = await v.call("POST", "/datasets", json={"path": "export", "datapoints": POINTS})
    status, jsonl, headers = await v.call("GET", f"/datasets/{v1['id']}/versions/{v1['version_id']}/export")
    assert status == 200
    assert headers["Content-Type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in jsonl.splitlines()]
    assert [{k: p[k] for k in p if k != "id"} for p in lines] == POINTS

    status, csv, _ = await v.call(
        "GET", f"/datasets/{v1['id']}/versions/{v1['version_id']}/export", params={"format": "csv"}
    )
    assert status == 200
    assert csv.splitlines()[0] == b"lang,q,messages,target"
    # The CSV uploads back into an empty dataset as the same contents: the same version.
    _, empty, _ = await v.call("POST", "/datasets", json={"path": "export", "datapoints": [], "action": "set"})
    form = FormData()
    form.add_field("file", csv, filename="export.csv", content_type="text/csv")
    status, uploaded, _ = await v.call(
        "POST", f"/datasets/{v1['id']}/datapoints/csv", params={"version_id": empty["version_id"]}, data=form
    )
    assert status == 200, uploaded
    assert uploaded["version_id"] == v1["version_id"]
