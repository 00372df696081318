"""Versions: applying a delta (set/add/remove on a base version), and what may change afterwards.

The one entry point for writes of contents is `apply_delta`; the REST upsert, the CSV upload, restore
and the event consumer all go through it, so they share the rules:

- the base is the `version_id` given, else the version deployed to `environment`, else the newest
  version that is not deleted (empty for a new dataset);
- `add` ignores datapoints already in the base, `remove` matches by content and ignores absent ones;
- a result whose contents equal a live version of the dataset *is* that version (no new `dsv_`);
  asking to commit (or name) it again when it already is, is a 409;
- versions never change contents; only their status, commit message and name change later.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg

from contracts.versioning import DatasetVersionCreated
from services.runtime.outbox import Outbox
from services.versioning import store
from services.versioning.datapoints import Datapoint, unique
from services.versioning.errors import VersioningError

Action = Literal["set", "add", "remove"]
_ALPHABET = string.ascii_letters + string.digits
_DIGEST_MOD = 2**256

# Path segments: no control characters, no backslash, no surrounding blanks, not "." or "..".
_SEGMENT = re.compile(r"^(?![.]{1,2}$)[^\x00-\x1f\x7f/\\]+$")
MAX_PATH = 512


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def check_path(path: str, loc: list[str | int]) -> str:
    """A dataset path (`folder/name`), or a 422 that says what is wrong with it."""
    segments = path.split("/")
    problem = None
    if not path or len(path) > MAX_PATH:
        problem = f"a path has 1 to {MAX_PATH} characters"
    elif any(s != s.strip() or not s for s in segments):
        problem = "a path is names separated by single '/', without leading, trailing or doubled '/' or blanks"
    elif not all(_SEGMENT.match(s) for s in segments):
        problem = "a path may not contain control characters or '\\', nor '.' or '..' as a name"
    if problem:
        raise VersioningError(422, "InvalidPath", f"invalid dataset path {path!r}: {problem}", loc=loc)
    return path


def _digest_add(digest: int, hashes: list[bytes], sign: int) -> int:
    for h in hashes:
        digest = (digest + sign * int.from_bytes(h, "big")) % _DIGEST_MOD
    return digest


@dataclass(frozen=True)
class Delta:
    action: Action
    datapoints: list[Datapoint]
    dataset_id: str | None = None
    path: str | None = None
    base_version_id: str | None = None
    environment: str | None = None
    commit_message: str | None = None
    version_name: str | None = None
    version_description: str | None = None
    attributes: dict[str, Any] | None = None
    actor: str | None = None
    request_id: str | None = None
    force_new: bool = False  # restore: a new newest version unless the newest already holds these contents


@dataclass(frozen=True)
class Report:
    """What an upsert did, counted against its base."""

    added: int
    removed: int
    duplicates_ignored: int  # repeated in the request, or (add) already in the base
    not_found: int  # remove: datapoints that were not in the base
    noop: bool


@dataclass(frozen=True)
class Outcome:
    dataset: asyncpg.Record
    version: asyncpg.Record
    base_id: str | None
    created: bool
    report: Report
    events: list[Any] = field(default_factory=list)


async def lock_dataset(conn: asyncpg.Connection, dataset_id: str) -> asyncpg.Record:
    row = await store.lock_dataset_by_id(conn, dataset_id)
    if row is None:
        raise VersioningError(404, "DatasetNotFound", f"no dataset with id {dataset_id!r}")
    return row


async def _dataset_for(conn: asyncpg.Connection, delta: Delta) -> asyncpg.Record:
    if delta.dataset_id is not None:
        return await lock_dataset(conn, delta.dataset_id)
    if delta.path is None:
        raise VersioningError(422, "ValidationError", "give the dataset's path or its id", loc=["body", "path"])
    path = check_path(delta.path, ["body", "path"])
    while True:
        row = await store.lock_dataset_by_path(conn, path)
        if row is not None:
            return row
        row = await store.create_dataset(conn, new_id("ds_"), path, delta.actor)
        if row is not None:
            return row  # else another writer created it between our two statements: lock theirs


async def version_of(
    conn: asyncpg.Connection | asyncpg.Pool, dataset: asyncpg.Record, version_id: str
) -> asyncpg.Record:
    row = await store.version(conn, dataset["pk"], version_id)
    if row is None:
        raise VersioningError(404, "VersionNotFound", f"dataset {dataset['id']} has no version {version_id!r}")
    return row


async def environment(conn: asyncpg.Connection | asyncpg.Pool, ref: str) -> asyncpg.Record:
    row = await store.environment(conn, ref)
    if row is None:
        known = ", ".join(r["name"] for r in await store.environments(conn))
        raise VersioningError(404, "EnvironmentNotFound", f"no environment {ref!r}; environments are: {known}")
    return row


async def resolve(
    conn: asyncpg.Connection | asyncpg.Pool,
    dataset: asyncpg.Record,
    *,
    version_id: str | None,
    environment_ref: str | None,
    default: Literal["latest", "deployed"],
) -> asyncpg.Record | None:
    """The version a request names: by id, by environment, else the default (None: the dataset has none)."""
    if version_id is not None:
        return await version_of(conn, dataset, version_id)
    if environment_ref is not None:
        env = await environment(conn, environment_ref)
        row = await store.deployed(conn, dataset["pk"], env["id"])
        if row is None:
            raise VersioningError(
                404, "NotDeployed", f"no version of dataset {dataset['id']} is deployed to {env['name']!r}"
            )
        return row
    if default == "deployed":
        env = await store.default_environment(conn)
        if (row := await store.deployed(conn, dataset["pk"], env["id"])) is not None:
            return row
    return await store.latest_version(conn, dataset["pk"])


async def apply_delta(conn: asyncpg.Connection, outbox: Outbox, delta: Delta) -> Outcome:
    """Apply a delta in the caller's transaction; the DatasetVersionCreated event goes to the outbox with it."""
    dataset = await _dataset_for(conn, delta)
    pk = dataset["pk"]
    base = await resolve(
        conn, dataset, version_id=delta.base_version_id, environment_ref=delta.environment, default="latest"
    )
    base_seq = base["seq"] if base is not None else 0
    base_digest = int.from_bytes(base["digest"], "big") if base is not None else 0
    base_count = base["datapoints_count"] if base is not None else 0
    points, repeats = unique(delta.datapoints)

    if delta.action == "remove":
        stored, new = await store.find_datapoints(conn, pk, [p.hash for p in points]), set()
    else:
        stored, new = await store.store_datapoints(conn, pk, points)
    incoming = {stored[p.hash]: p.hash for p in points if p.hash in stored}
    # Contents stored just now are in no version yet: only the others need looking up.
    in_base = await store.members_among(conn, pk, base_seq, [d for d in incoming if d not in new])

    if delta.action == "add":
        added = {d: h for d, h in incoming.items() if d not in in_base}
        removed: dict[int, bytes] = {}
        ignored = repeats + len(in_base)
        not_found = 0
    elif delta.action == "remove":
        added = {}
        removed = {d: incoming[d] for d in in_base}
        ignored, not_found = repeats, len(points) - len(removed)
    else:  # set: the new version holds exactly the incoming datapoints
        added = {d: h for d, h in incoming.items() if d not in in_base}
        leaving = [d for d in await store.members(conn, pk, base_seq) if d not in incoming]
        removed = dict(zip(leaving, await _hashes_in_order(conn, leaving), strict=True))
        ignored, not_found = repeats, 0

    count = base_count + len(added) - len(removed)
    digest = _digest_add(_digest_add(base_digest, list(added.values()), 1), list(removed.values()), -1)
    digest_bytes = digest.to_bytes(32, "big")
    report = Report(len(added), len(removed), ignored, not_found, noop=False)
    base_id = base["id"] if base is not None else None

    head = dataset["head_seq"]
    match = await store.matching_version(conn, pk, digest_bytes, count)
    if delta.force_new and match is not None and match["seq"] != head:
        match = None  # restore: these contents become the newest version, though an older one holds them
    if match is not None:
        version = await _settle_existing(conn, match, delta)
        return Outcome(dataset, version, base_id, False, replace(report, noop=True))

    await _check_name_free(conn, pk, delta.version_name)
    # Write the new version's difference from the newest one (see store.py for why).
    head_arrived, head_left = await store.changed_since(conn, pk, base_seq, head) if base_seq < head else (set(), set())
    opened = [d for d in added if d not in head_arrived] + [d for d in head_left if d not in removed]
    closed = [d for d in removed if d not in head_left] + [d for d in head_arrived if d not in added]
    seq = head + 1
    await store.write_membership(conn, pk, seq, opened, closed)
    now = datetime.now(UTC)
    committed = delta.commit_message is not None or delta.version_name is not None
    version = await store.insert_version(
        conn,
        id=new_id("dsv_"),
        dataset=pk,
        seq=seq,
        base_id=base_id,
        status="committed" if committed else "uncommitted",
        committed=committed,
        commit_message=delta.commit_message,
        version_name=delta.version_name,
        version_description=delta.version_description,
        attributes=delta.attributes,
        datapoints_count=count,
        added=len(added),
        removed=len(removed),
        digest=digest_bytes,
        created_by=delta.actor,
        created_at=now,
        committed_at=now if committed else None,
        committed_by=delta.actor if committed else None,
    )
    await store.advance_head(conn, pk, seq)
    event = DatasetVersionCreated(
        dataset_path=dataset["path"],
        dataset_id=dataset["id"],
        version_id=version["id"],
        base_version_id=base_id,
        datapoint_count=count,
        added=len(added),
        removed=len(removed),
        duplicates_ignored=ignored,
        commit_message=delta.commit_message,
        version_name=delta.version_name,
        request_id=delta.request_id,
    )
    await outbox.add(conn, event)
    return Outcome(dataset, version, base_id, True, report, [event])


async def _hashes_in_order(conn: asyncpg.Connection, pks: list[int]) -> list[bytes]:
    # Only sums of hashes matter (the digest), so any order of the same multiset does.
    found = await store.hashes(conn, pks)
    if len(found) != len(pks):
        raise RuntimeError("membership names datapoints that are not stored")
    return found


async def _check_name_free(conn: asyncpg.Connection, dataset_pk: int, name: str | None) -> None:
    if name is not None and (other := await store.version_named(conn, dataset_pk, name)) is not None:
        raise VersioningError(
            409, "VersionNameTaken", f"version {other['id']} of this dataset is already named {name!r}"
        )


async def _settle_existing(conn: asyncpg.Connection, version: asyncpg.Record, delta: Delta) -> asyncpg.Record:
    """The existing version a delta resolved to, committed or named if the delta asks and it is not yet."""
    updates: dict[str, Any] = {}
    if delta.commit_message is not None:
        if version["status"] == "committed":
            raise VersioningError(
                409,
                "AlreadyCommitted",
                f"these contents are version {version['id']}, which is already committed; nothing to commit",
            )
        updates |= {"commit_message": delta.commit_message}
    if delta.version_name is not None and delta.version_name != version["version_name"]:
        if version["version_name"] is not None:
            raise VersioningError(
                409,
                "VersionNameTaken",
                f"these contents are version {version['id']}, already named {version['version_name']!r}",
            )
        await _check_name_free(conn, version["dataset"], delta.version_name)
        updates |= {"version_name": delta.version_name, "version_description": delta.version_description}
    if not updates:
        return version
    if version["status"] != "committed":
        updates |= {"status": "committed", "committed": True, "committed_at": datetime.now(UTC)}
        updates |= {"committed_by": delta.actor}
    return await store.update_version(conn, version["pk"], **updates)


async def commit(
    conn: asyncpg.Connection, dataset: asyncpg.Record, version_id: str, message: str, actor: str | None
) -> asyncpg.Record:
    version = await store.lock_version(conn, dataset["pk"], version_id)
    if version is None:
        raise VersioningError(404, "VersionNotFound", f"dataset {dataset['id']} has no version {version_id!r}")
    if version["status"] == "committed":
        raise VersioningError(409, "AlreadyCommitted", f"version {version_id} is already committed")
    if version["status"] == "deleted":
        raise VersioningError(409, "VersionDeleted", f"version {version_id} is deleted and cannot be committed")
    return await store.update_version(
        conn,
        version["pk"],
        status="committed",
        committed=True,
        commit_message=message,
        committed_at=datetime.now(UTC),
        committed_by=actor,
    )


async def rename(
    conn: asyncpg.Connection, dataset: asyncpg.Record, version_id: str, name: str | None, description: str | None
) -> asyncpg.Record:
    """0.8.38's PATCH of a version: its name (unique in the dataset) and description."""
    version = await store.lock_version(conn, dataset["pk"], version_id)
    if version is None:
        raise VersioningError(404, "VersionNotFound", f"dataset {dataset['id']} has no version {version_id!r}")
    updates: dict[str, Any] = {}
    if name is not None and name != version["version_name"]:
        await _check_name_free(conn, dataset["pk"], name)
        updates["version_name"] = name
    if description is not None:
        updates["version_description"] = description
    return await store.update_version(conn, version["pk"], **updates) if updates else version


async def delete_version(conn: asyncpg.Connection, dataset: asyncpg.Record, version_id: str) -> None:
    """Soft delete: the version stays readable by id, and leaves "latest" and content matching."""
    version = await store.lock_version(conn, dataset["pk"], version_id)
    if version is None:
        raise VersioningError(404, "VersionNotFound", f"dataset {dataset['id']} has no version {version_id!r}")
    envs = [d["name"] for d in await store.deployments(conn, dataset["pk"]) if d["version"] == version["pk"]]
    if envs:
        raise VersioningError(
            409, "VersionDeployed", f"version {version_id} is deployed to {', '.join(envs)}; undeploy it first"
        )
    if version["status"] != "deleted":
        await store.update_version(conn, version["pk"], status="deleted", deleted_at=datetime.now(UTC))


async def deploy(
    conn: asyncpg.Connection, dataset: asyncpg.Record, env_ref: str, version_id: str | None, actor: str | None
) -> asyncpg.Record | None:
    """Point an environment at a version (None: undeploy); the version deployed, if any."""
    env = await environment(conn, env_ref)
    version = None
    if version_id is not None:
        version = await version_of(conn, dataset, version_id)
        if version["status"] == "deleted":
            raise VersioningError(409, "VersionDeleted", f"version {version_id} is deleted and cannot be deployed")
    await store.deploy(conn, dataset["pk"], env["id"], version["pk"] if version else None, moved_by=actor)
    return version
