"""Every datasets call of the real `humanloop` SDK against a running versioning service.

Run as a script by tests/versioning/test_humanloop_sdk.py, in a subprocess, so that two SDK
generations (0.8.29's commit model and the current 0.8.38's named versions) each run with their own
dependencies: `python sdk_session.py BASE_URL API_KEY commit|named`. Exits non-zero, saying which
check failed, when the service does not behave as the SDK expects; prints the calls it made.
"""

from __future__ import annotations

import json
import sys

from humanloop import Humanloop
from humanloop.core.api_error import ApiError
from humanloop.errors import UnprocessableEntityError

done: list[str] = []


def check(condition: object, what: str) -> None:
    if not condition:
        raise SystemExit(f"check failed after {done}: {what}")


def expect_error(status: int, call, what: str) -> None:  # type: ignore[no-untyped-def]
    try:
        call()
    except ApiError as exc:
        check(exc.status_code == status, f"{what}: expected {status}, got {exc.status_code} {exc.body}")
        return
    raise SystemExit(f"check failed: {what}: expected {status}, the call succeeded")


def main(base_url: str, api_key: str, generation: str) -> None:
    named = generation == "named"
    client = Humanloop(api_key=api_key, base_url=base_url)
    ds = client.datasets

    def saving(label: str) -> dict[str, str]:
        return {"version_name": label} if named else {"commit_message": label}

    a = {"inputs": {"question": "2+2?"}, "target": {"answer": "4"}}
    b = {"inputs": {"question": "capital of France?"}, "messages": [{"role": "user", "content": "Paris?"}]}
    c = {"inputs": {"question": "2+2?", "_dedupe_id": "second"}, "target": {"answer": "4"}}
    v1 = ds.upsert(path="sdk/qa", datapoints=[a, b, c], action="set", **saving("v1"))
    done.append("upsert")
    check(v1.datapoints_count == 3, "set of 3 distinct datapoints (one differs only by _dedupe_id)")
    check(v1.id.startswith("ds_") and v1.version_id.startswith("dsv_"), "ids")
    lookup = ds.upsert(path="sdk/qa", datapoints=[], action="add")
    check(lookup.version_id == v1.version_id, "add of nothing returns the version it was applied to")

    v2 = ds.upsert(id=v1.id, datapoints=[{"inputs": {"question": "new"}}], action="add", version_id=v1.version_id)
    check(v2.version_id != v1.version_id and v2.datapoints_count == 4, "add creates a version")
    got = ds.get(id=v1.id, version_id=v2.version_id, include_datapoints=True)
    done.append("get")
    check(len(got.datapoints or []) == 4 and all(d.id.startswith("dp_") for d in got.datapoints), "get datapoints")

    items = list(ds.list_datapoints(id=v1.id, version_id=v1.version_id, size=2))
    done.append("list_datapoints")
    check(len(items) == 3, f"iterating list_datapoints(size=2) yields 3 items, got {len(items)}")
    check(len({d.id for d in items}) == 3, "distinct datapoints")

    listed = [d.path for d in ds.list(size=1)]
    done.append("list")
    check("sdk/qa" in listed, f"list pages through datasets: {listed}")
    versions = ds.list_versions(id=v1.id).records
    done.append("list_versions")
    check([v.version_id for v in versions] == [v2.version_id, v1.version_id], "versions, newest first")

    if named:
        expect_error(409, lambda: ds.update_dataset_version(id=v1.id, version_id=v2.version_id, name="v1"), "clash")
        renamed = ds.update_dataset_version(id=v1.id, version_id=v2.version_id, name="v2", description="more")
        done.append("update_dataset_version")
        check(renamed.version_name == "v2", "renamed")
        expect_error(409, lambda: ds.upsert(id=v1.id, datapoints=[], action="add", version_name="v1"), "name clash")
    else:
        committed = ds.commit(id=v1.id, version_id=v2.version_id, commit_message="second")
        done.append("commit")
        check(committed.status == "committed" and committed.commit_message == "second", "committed")
        expect_error(409, lambda: ds.commit(id=v1.id, version_id=v2.version_id, commit_message="x"), "twice")
        expect_error(409, lambda: ds.upsert(path="sdk/qa", datapoints=[a, b, c], commit_message="again"), "recommit")

    deployed = ds.set_deployment(id=v1.id, environment_id="staging", version_id=v2.version_id)
    done.append("set_deployment")
    check([e.name for e in deployed.environments or []] == ["staging"], "deployed to staging")
    envs = {e.name: e for e in ds.list_environments(id=v1.id)}
    done.append("list_environments")
    check(envs["staging"].file.version_id == v2.version_id and envs["production"].file is None, "environments")
    check(ds.get(id=v1.id, environment="staging").version_id == v2.version_id, "get by environment")
    base = ds.upsert(id=v1.id, datapoints=[a], action="remove", environment="staging")
    check(base.datapoints_count == 3, "remove on the staging version, matched by content")

    csv = b'question,target\nfrom csv,"{""answer"": ""yes""}"\n'
    uploaded = ds.upload_csv(id=v1.id, file=("data.csv", csv, "text/csv"), version_id=v1.version_id, **saving("csv"))
    done.append("upload_csv")
    check(uploaded.datapoints_count == 4, f"csv adds one datapoint onto v1, got {uploaded.datapoints_count}")

    ds.remove_deployment(id=v1.id, environment_id="staging")
    done.append("remove_deployment")
    check(all(e.file is None for e in ds.list_environments(id=v1.id)), "nothing deployed any more")

    ds.delete_dataset_version(id=v1.id, version_id=base.version_id)
    done.append("delete_dataset_version")
    statuses = {v.version_id: v.status for v in ds.list_versions(id=v1.id).records}
    if not named:
        check(statuses[base.version_id] == "deleted", f"soft-deleted: {statuses}")

    moved = ds.move(id=v1.id, path="sdk/renamed")
    done.append("move")
    check(moved.path == "sdk/renamed" and moved.name == "renamed", "moved")

    try:
        ds.upsert(path="sdk/bad", datapoints=[{"inputs": {"n": 1}}])  # type: ignore[dict-item]
        raise SystemExit("a non-string input value was accepted")
    except UnprocessableEntityError as exc:
        detail = exc.body.detail if hasattr(exc.body, "detail") else exc.body["detail"]
        check(detail and "loc" in (detail[0] if isinstance(detail[0], dict) else detail[0].dict()), "422 detail")
    try:  # a value PostgreSQL cannot store: a 422 too, whose detail is the list of items the SDK's type says
        ds.list(name="a\x00b")
        raise SystemExit("a NUL in a search was accepted")
    except UnprocessableEntityError as exc:
        detail = exc.body.detail if hasattr(exc.body, "detail") else exc.body["detail"]
        check(isinstance(detail, list) and "cannot be stored" in str(detail[0]), f"422 detail of a NUL: {detail!r}")
    expect_error(404, lambda: ds.get(id="ds_doesnotexist"), "unknown dataset")

    ds.delete(id=v1.id)
    done.append("delete")
    expect_error(404, lambda: ds.get(id=v1.id), "deleted dataset")
    # Every datasets call this SDK generation has was driven above (a new SDK call fails here until it is).
    calls = {m for m in dir(type(ds)) if not m.startswith("_") and m != "with_raw_response"}
    check(calls <= set(done), f"datasets calls of this SDK not driven: {sorted(calls - set(done))}")
    print(json.dumps(done))


if __name__ == "__main__":
    main(*sys.argv[1:4])
