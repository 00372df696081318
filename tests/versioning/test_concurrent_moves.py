"""Datasets moved (renamed, or at the same time): each move applies whole or gets a clear 4xx, never a 500.

Two moves onto each other's path each locked their own dataset and then the one at the target path: a
deadlock. Two moves to one free path raced to the unique index: an unhandled unique violation. Both were
answered 500.
"""

from __future__ import annotations

import asyncio

from tests.versioning.conftest import Versioning


async def _dataset(versioning: Versioning, path: str) -> str:
    status, body, _ = await versioning.call(
        "POST", "/datasets", json={"path": path, "datapoints": [{"inputs": {"q": path}}]}
    )
    assert status == 200, body
    return str(body["id"])


async def _move(versioning: Versioning, dataset_id: str, path: str) -> tuple[int, str | None]:
    status, _, headers = await versioning.call("PATCH", f"/datasets/{dataset_id}", json={"path": path})
    return status, dict(headers).get("X-Error-Code")  # type: ignore[arg-type]


async def test_moves_onto_each_others_path_are_refused_not_deadlocked(versioning: Versioning) -> None:
    a, b = await _dataset(versioning, "moves/a"), await _dataset(versioning, "moves/b")
    for _ in range(20):
        answers = await asyncio.gather(_move(versioning, a, "moves/b"), _move(versioning, b, "moves/a"))
        assert answers == [(409, "PathTaken"), (409, "PathTaken")]


async def test_two_moves_to_one_free_path_one_applies_the_other_is_refused(versioning: Versioning) -> None:
    a, b = await _dataset(versioning, "race/a"), await _dataset(versioning, "race/b")
    for i in range(20):
        answers = sorted(
            await asyncio.gather(_move(versioning, a, f"race/free-{i}"), _move(versioning, b, f"race/free-{i}"))
        )
        assert answers == [(200, None), (409, "PathTaken")], i
        # Put the winner back where it was, so both start from their own paths again.
        winner = a if (await versioning.call("GET", f"/datasets/{a}"))[1]["path"] == f"race/free-{i}" else b
        assert (await _move(versioning, winner, "race/a" if winner == a else "race/b"))[0] == 200


async def test_a_new_name_with_a_slash_is_refused_not_a_move_to_another_folder(versioning: Versioning) -> None:
    # Found by exploratory testing: name "x/y" moved "explore/a" to "explore/x/y".
    a = await _dataset(versioning, "named/a")
    status, body, headers = await versioning.call("PATCH", f"/datasets/{a}", json={"name": "x/y"})
    assert (status, headers["X-Error-Code"], body["detail"][0]["loc"]) == (422, "InvalidPath", ["body", "name"])
    status, body, _ = await versioning.call("PATCH", f"/datasets/{a}", json={"name": "b"})
    assert (status, body["path"]) == (200, "named/b")
