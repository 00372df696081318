"""The upsert's semantics over HTTP: the acceptance vectors of the wire notes, and storage in O(delta)."""

from __future__ import annotations

import orjson

from tests.versioning.conftest import Versioning

A = {"inputs": {"q": "a"}, "target": {"answer": "A"}}
B = {"inputs": {"q": "b"}, "messages": [{"role": "user", "content": "b?"}]}
B_PRIME = {"inputs": {"q": "b", "_dedupe_id": "x"}, "messages": [{"role": "user", "content": "b?"}]}


async def upsert(v: Versioning, body: dict, **query: str) -> tuple[int, dict]:
    status, answer, _ = await v.call("POST", "/datasets", json=body, params=query)
    return status, answer


async def test_acceptance_vectors(versioning: Versioning) -> None:
    v = versioning
    status, v1 = await upsert(v, {"path": "evals/qa", "datapoints": [A, B], "commit_message": "first"})
    assert status == 200, v1
    assert (v1["datapoints_count"], v1["status"], v1["name"]) == (2, "committed", "qa")
    assert v1["id"].startswith("ds_")
    assert v1["version_id"].startswith("dsv_")

    _, again = await upsert(v, {"path": "evals/qa", "datapoints": [B, A]})  # same contents, any order
    assert again["version_id"] == v1["version_id"]
    assert again["report"]["noop"] is True

    _, dedup = await upsert(v, {"path": "evals/qa", "datapoints": [B], "action": "add"})
    assert dedup["version_id"] == v1["version_id"]
    assert dedup["report"]["duplicates_ignored"] == 1

    _, v2 = await upsert(v, {"id": v1["id"], "datapoints": [B_PRIME], "action": "add"})
    assert v2["version_id"] != v1["version_id"]
    assert v2["datapoints_count"] == 3
    assert v2["status"] == "uncommitted"

    _, v3 = await upsert(v, {"id": v1["id"], "datapoints": [A], "action": "remove"}, version_id=v2["version_id"])
    assert v3["datapoints_count"] == 2
    assert v3["report"]["removed"] == 1

    status, clash = await upsert(v, {"id": v1["id"], "datapoints": [A, B], "commit_message": "again"})
    assert status == 409, clash
    assert "already committed" in clash["detail"]

    status, deployed, _ = await v.call(
        "POST", f"/datasets/{v1['id']}/environments/staging", params={"version_id": v3["version_id"]}
    )
    assert status == 200
    assert [e["name"] for e in deployed["environments"]] == ["staging"]
    _, got, _ = await v.call("GET", f"/datasets/{v1['id']}", params={"environment": "staging"})
    assert got["version_id"] == v3["version_id"]

    # Old versions still read as they were.
    _, page, _ = await v.call("GET", f"/datasets/{v1['id']}/datapoints", params={"version_id": v1["version_id"]})
    assert sorted(r["inputs"]["q"] for r in page["records"]) == ["a", "b"]
    _, page, _ = await v.call("GET", f"/datasets/{v1['id']}/datapoints", params={"version_id": v3["version_id"]})
    assert [r["inputs"] for r in page["records"]] == [B["inputs"], B_PRIME["inputs"]]


async def test_a_version_costs_the_rows_of_its_delta_not_of_the_dataset(versioning: Versioning) -> None:
    v = versioning
    big = [{"inputs": {"n": str(i)}} for i in range(3000)]
    _, v1 = await upsert(v, {"path": "big", "datapoints": big})
    before = await v.pool.fetchval("SELECT count(*) FROM membership")
    closed_before = await v.pool.fetchval("SELECT count(*) FROM membership WHERE to_seq < 2147483647")
    stored_before = await v.pool.fetchval("SELECT count(*) FROM datapoints")
    adds = [{"inputs": {"n": f"new-{i}"}} for i in range(7)]
    _, v2 = await upsert(v, {"id": v1["id"], "datapoints": adds, "action": "add"})
    _, v3 = await upsert(v, {"id": v1["id"], "datapoints": big[:5], "action": "remove"})
    assert (v2["datapoints_count"], v3["datapoints_count"]) == (3007, 3002)
    assert await v.pool.fetchval("SELECT count(*) FROM membership") - before == 7
    assert await v.pool.fetchval("SELECT count(*) FROM membership WHERE to_seq < 2147483647") - closed_before == 5
    assert await v.pool.fetchval("SELECT count(*) FROM datapoints") - stored_before == 7  # contents stored once

    # A version built on an old base writes its difference from the newest version, and reads right.
    _, v4 = await upsert(
        v, {"id": v1["id"], "datapoints": [{"inputs": {"n": "x"}}], "action": "add"}, version_id=v1["version_id"]
    )
    assert v4["datapoints_count"] == 3001
    status, diff, _ = await v.call(
        "GET",
        f"/datasets/{v1['id']}/versions/diff",
        params={"from_version_id": v3["version_id"], "to_version_id": v4["version_id"], "size": "100"},
    )
    assert status == 200, diff
    assert (diff["added_count"], diff["removed_count"]) == (6, 7)
    assert {r["inputs"]["n"] for r in diff["removed"]} == {f"new-{i}" for i in range(7)}
    for version, count in ((v1, 3000), (v2, 3007), (v3, 3002), (v4, 3001)):
        total = 0
        page = 1
        while True:
            _, body, _ = await v.call(
                "GET",
                f"/datasets/{v1['id']}/datapoints",
                params={"version_id": version["version_id"], "page": str(page), "size": "1000"},
            )
            if not body["records"]:
                break
            total += len(body["records"])
            page += 1
        assert total == count


async def test_contents_come_back_exactly_as_sent(versioning: Versioning) -> None:
    tricky = {
        "inputs": {"q": 'tab\there, back\\slash \\N, "quotes", newline\n, \\x00 é ☃ \U0001f600', "empty": ""},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "\\\\server\\share"}], "name": "n"}],
        "target": {"nested": {"list": [1, 2.5, True, None, "\r\n"]}, "big": 12345678901234567890},
    }
    status, v1 = await upsert(versioning, {"path": "tricky", "datapoints": [tricky]})
    assert status == 200, v1
    _, page, _ = await versioning.call("GET", f"/datasets/{v1['id']}/datapoints")
    [stored] = page["records"]
    assert {k: v for k, v in stored.items() if k != "id"} == tricky
    _, again = await upsert(versioning, {"path": "tricky", "datapoints": [tricky]})
    assert again["version_id"] == v1["version_id"]


async def test_deep_pages_read_the_same_datapoints_as_one_pass(versioning: Versioning) -> None:
    v = versioning
    _, v1 = await upsert(v, {"path": "deep", "datapoints": [{"inputs": {"n": str(i)}} for i in range(2500)]})
    _, v2 = await upsert(
        v, {"id": v1["id"], "action": "remove", "datapoints": [{"inputs": {"n": str(i)}} for i in range(0, 2500, 3)]}
    )
    for version, count in ((v1, 2500), (v2, 1666)):
        _, jsonl, _ = await v.call("GET", f"/datasets/{v1['id']}/versions/{version['version_id']}/export")
        one_pass = [orjson.loads(line)["inputs"]["n"] for line in jsonl.splitlines()]
        paged: list[str] = []
        for number in range(1, count // 7 + 3):
            _, body, _ = await v.call(
                "GET",
                f"/datasets/{v1['id']}/datapoints",
                params={"version_id": version["version_id"], "page": str(number), "size": "7"},
            )
            paged += [r["inputs"]["n"] for r in body["records"]]
        assert len(one_pass) == count
        assert paged == one_pass


async def test_a_large_batch_that_is_partly_stored_keeps_one_copy_of_each_content(versioning: Versioning) -> None:
    v = versioning
    first = [{"inputs": {"n": str(i)}} for i in range(1500)]
    second = first[500:] + [{"inputs": {"n": f"new-{i}"}} for i in range(500)]  # 1000 stored, 500 new
    _, v1 = await upsert(v, {"path": "overlap", "datapoints": first})
    _, v2 = await upsert(v, {"path": "overlap", "datapoints": second})
    assert (v2["datapoints_count"], v2["report"]["added"], v2["report"]["removed"]) == (1500, 500, 500)
    assert await v.pool.fetchval("SELECT count(*) FROM datapoints") == 2000
    _, page, _ = await v.call("GET", f"/datasets/{v1['id']}/datapoints", params={"size": "1500"})
    ids = {r["inputs"]["n"]: r["id"] for r in page["records"]}
    _, old, _ = await v.call(
        "GET", f"/datasets/{v1['id']}/datapoints", params={"size": "1500", "version_id": v1["version_id"]}
    )
    assert all(ids[r["inputs"]["n"]] == r["id"] for r in old["records"] if r["inputs"]["n"] in ids)
