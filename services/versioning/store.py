"""All of the versioning service's SQL.

How versions are stored, and why
================================

A dataset has a linear sequence of versions, numbered `seq` = 1, 2, 3 ... in the order they were
created (whatever base each was derived from). Datapoint contents live once per dataset in
`datapoints`, addressed by their content hash. Which datapoints a version holds is kept in
`membership` as validity ranges: a row (datapoint, from_seq, to_seq) says the datapoint is in every
version whose seq lies in [from_seq, to_seq); a row still in the newest version has to_seq = OPEN.

Why ranges rather than the alternatives:

- A full member list per version writes O(dataset) rows per version: 1M rows to add one datapoint.
- A chain of delta layers (each version = parent + adds - removes, with periodic snapshots) writes
  O(k), but reading page 1 of a version means merging up to a checkpoint's worth of layers, and a
  stable, indexed page order over a merge is awkward; checkpoints cost O(dataset) each.
- Ranges write exactly what changed between consecutive versions: creating version n closes the
  rows of the datapoints that leave (to_seq = n) and opens rows for those that arrive
  (from_seq = n). Every version stays directly readable: "datapoints valid at seq s, in datapoint
  order" walks the primary key (dataset, datapoint, from_seq) with a range filter, so page 1 of any
  version costs the same on 1K or 1M datapoints; deeper pages start from page anchors (`page`).

The price: ranges run along creation order, not along the version tree. A version derived from an
older base writes its difference from the *newest* version, i.e. (what changed since the base) plus
the delta. For the usual case (a delta on the latest version, which is also what events get by
default) that is O(k). Restoring an old version costs the size of its difference from the newest,
which is the real change to the dataset.

A version's `digest` is the sum, modulo 2^256, of the SHA-256 of its datapoints: order-free and
updated in O(k) from its base's (add the arrivals, subtract the departures), so "is there already a
version with exactly this content?" is one indexed lookup on (digest, count).

Writers of one dataset serialise on its row (`SELECT ... FOR UPDATE` in `lock_dataset_*`): a delta
reads the newest seq and writes n = newest + 1 under that lock, so two concurrent deltas both land,
one after the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from services.versioning.datapoints import Datapoint

OPEN = 2**31 - 1  # to_seq of a datapoint still in the newest version

_DATASET = "SELECT * FROM datasets"
_VERSION = "SELECT * FROM versions"


# Datasets ---------------------------------------------------------------------------------------


async def lock_dataset_by_id(conn: asyncpg.Connection, dataset_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_DATASET} WHERE id = $1 FOR UPDATE", dataset_id)


async def lock_dataset_by_path(conn: asyncpg.Connection, path: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_DATASET} WHERE path = $1 FOR UPDATE", path)


async def create_dataset(
    conn: asyncpg.Connection, dataset_id: str, path: str, created_by: str | None
) -> asyncpg.Record | None:
    """The new dataset, locked; None if another writer created this path first."""
    return await conn.fetchrow(
        "INSERT INTO datasets (id, path, created_by) VALUES ($1, $2, $3) ON CONFLICT (path) DO NOTHING RETURNING *",
        dataset_id,
        path,
        created_by,
    )


async def dataset(conn: asyncpg.Connection | asyncpg.Pool, dataset_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_DATASET} WHERE id = $1", dataset_id)


async def dataset_id_at(conn: asyncpg.Connection, path: str | None) -> str | None:
    return await conn.fetchval("SELECT id FROM datasets WHERE path = $1", path) if path else None


async def move_dataset(conn: asyncpg.Connection, pk: int, path: str) -> asyncpg.Record:
    return await conn.fetchrow("UPDATE datasets SET path = $2, updated_at = now() WHERE pk = $1 RETURNING *", pk, path)


async def delete_dataset(conn: asyncpg.Connection, pk: int) -> None:
    # The two large tables have no foreign keys to cascade along (see the migration).
    await conn.execute("DELETE FROM membership WHERE dataset = $1", pk)
    await conn.execute("DELETE FROM datapoints WHERE dataset = $1", pk)
    await conn.execute("DELETE FROM datasets WHERE pk = $1", pk)


async def advance_head(conn: asyncpg.Connection, pk: int, seq: int) -> None:
    await conn.execute("UPDATE datasets SET head_seq = $2, updated_at = now() WHERE pk = $1", pk, seq)


async def list_datasets(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    name: str | None,
    user: str | None,
    sort_by: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    column = {"created_at": "created_at", "updated_at": "updated_at", "name": "path"}[sort_by]
    where = "($1::text IS NULL OR position(lower($1) IN lower(path)) > 0) AND ($2::text IS NULL OR created_by = $2)"
    order = "DESC" if descending else "ASC"
    rows = await conn.fetch(
        f"{_DATASET} WHERE {where} ORDER BY {column} {order}, pk {order} LIMIT $3 OFFSET $4", name, user, limit, offset
    )
    total = await conn.fetchval(f"SELECT count(*) FROM datasets WHERE {where}", name, user)
    return rows, total


# Versions ---------------------------------------------------------------------------------------


async def version(conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int, version_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_VERSION} WHERE dataset = $1 AND id = $2", dataset_pk, version_id)


async def lock_version(conn: asyncpg.Connection, dataset_pk: int, version_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_VERSION} WHERE dataset = $1 AND id = $2 FOR UPDATE", dataset_pk, version_id)


async def latest_version(conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int) -> asyncpg.Record | None:
    """The newest version that is not deleted."""
    return await conn.fetchrow(
        f"{_VERSION} WHERE dataset = $1 AND status <> 'deleted' ORDER BY seq DESC LIMIT 1", dataset_pk
    )


async def versions(conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int) -> list[asyncpg.Record]:
    """Every version of a dataset, newest first."""
    return await conn.fetch(f"{_VERSION} WHERE dataset = $1 ORDER BY seq DESC", dataset_pk)


async def matching_version(
    conn: asyncpg.Connection, dataset_pk: int, digest: bytes, count: int
) -> asyncpg.Record | None:
    """The newest live version holding exactly the contents with this digest and count."""
    return await conn.fetchrow(
        f"""{_VERSION} WHERE dataset = $1 AND digest = $2 AND datapoints_count = $3 AND status <> 'deleted'
            ORDER BY seq DESC LIMIT 1 FOR UPDATE""",
        dataset_pk,
        digest,
        count,
    )


async def version_named(conn: asyncpg.Connection, dataset_pk: int, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_VERSION} WHERE dataset = $1 AND version_name = $2", dataset_pk, name)


async def insert_version(conn: asyncpg.Connection, **values: Any) -> asyncpg.Record:
    values["attributes"] = values.get("attributes") or {}
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchrow(
        f"INSERT INTO versions ({', '.join(columns)}) VALUES ({placeholders}) RETURNING *", *values.values()
    )


async def update_version(conn: asyncpg.Connection, pk: int, **values: Any) -> asyncpg.Record:
    """Set metadata of a version (status, commit, name); its contents never change."""
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(values, 2))
    return await conn.fetchrow(f"UPDATE versions SET {sets} WHERE pk = $1 RETURNING *", pk, *values.values())


# Datapoints and membership ----------------------------------------------------------------------


OPTIMISTIC_COPY_MIN = 1000  # from this many contents, try one COPY of them all before probing which exist


async def store_datapoints(
    conn: asyncpg.Connection, dataset_pk: int, points: Sequence[Datapoint]
) -> tuple[dict[bytes, int], set[int]]:
    """Make sure each content (all distinct) is stored for the dataset: pk by hash, and the pks stored now.

    The caller holds the dataset's row lock, so nobody else adds contents to this dataset meanwhile:
    the contents not found are new, and go in with one COPY (pks drawn from the sequence first), the
    way a bulk load should; the unique (dataset, hash) index still guards the rule. A large batch is
    first copied whole, in a savepoint, on the bet that it is all new (a bulk load): that saves a
    probe per content, and a unique violation just falls back to probing. The public id is derived
    from the dataset and the content hash: unique without an index of its own.
    """
    if len(points) >= OPTIMISTIC_COPY_MIN:
        try:
            async with conn.transaction():
                pks = await _copy_contents(conn, dataset_pk, points)
            return {p.hash: pk for p, pk in zip(points, pks, strict=True)}, set(pks)
        except asyncpg.UniqueViolationError:
            pass  # some are stored already
    found = await find_datapoints(conn, dataset_pk, [p.hash for p in points])
    fresh = [p for p in points if p.hash not in found]
    if not fresh:
        return found, set()
    pks = await _copy_contents(conn, dataset_pk, fresh)
    found.update((p.hash, pk) for p, pk in zip(fresh, pks, strict=True))
    return found, set(pks)


async def _copy_contents(conn: asyncpg.Connection, dataset_pk: int, points: Sequence[Datapoint]) -> list[int]:
    pks: list[int] = await conn.fetchval(
        "SELECT array_agg(nextval('datapoints_pk_seq')) FROM generate_series(1, $1)", len(points)
    )
    await conn.copy_to_table(
        "datapoints",
        source=_copy_lines(dataset_pk, pks, points),
        columns=("pk", "dataset", "hash", "id", "content"),
        format="text",
    )
    return pks


COPY_CHUNK = 2000  # lines per piece of a contents COPY


async def _copy_lines(dataset_pk: int, pks: Sequence[int], points: Sequence[Datapoint]) -> AsyncIterator[bytes]:
    """COPY's text format for these contents, in pieces: the server parses one while the next is built.

    Tab-separated, backslashes doubled (canonical JSON has no raw tab or newline), the hash as bytea
    hex; the public id is public_id() inlined.
    """
    prefix = f"\t{dataset_pk}\t\\\\x".encode()
    id_prefix = f"\tdp_{dataset_pk:x}".encode()
    for start in range(0, len(points), COPY_CHUNK):
        yield b"".join(
            b"%d%s%s%s%s\t%s\n"
            % (pk, prefix, (h := p.hash.hex().encode()), id_prefix, h[:20], p.canonical.replace(b"\\", b"\\\\"))
            for pk, p in zip(pks[start : start + COPY_CHUNK], points[start : start + COPY_CHUNK], strict=True)
        )


def public_id(dataset_pk: int, content_hash: bytes) -> str:
    return f"dp_{dataset_pk:x}{content_hash[:10].hex()}"


async def find_datapoints(conn: asyncpg.Connection, dataset_pk: int, hashes: Sequence[bytes]) -> dict[bytes, int]:
    """The pk of each content the dataset has stored, by hash (absent ones are left out)."""
    if not hashes:
        return {}
    # One unique-index probe per hash (LATERAL ... LIMIT 1, which the planner cannot flatten into a
    # join), whatever its statistics say: a hash join over the whole dataset would make a delta of k
    # datapoints cost O(dataset) (seen right after a bulk load, before autovacuum's ANALYZE).
    rows = await conn.fetch(
        """SELECT d.hash, d.pk FROM unnest($2::bytea[]) AS x(h)
           CROSS JOIN LATERAL (SELECT hash, pk FROM datapoints WHERE dataset = $1 AND hash = x.h LIMIT 1) AS d""",
        dataset_pk,
        list(hashes),
    )
    return {bytes(r["hash"]): r["pk"] for r in rows}


async def hashes(conn: asyncpg.Connection, pks: Sequence[int]) -> list[bytes]:
    rows = await conn.fetch("SELECT hash FROM datapoints WHERE pk = ANY($1::bigint[])", list(pks))
    return [bytes(r["hash"]) for r in rows]


async def members_among(conn: asyncpg.Connection, dataset_pk: int, seq: int, pks: Sequence[int]) -> set[int]:
    """Which of `pks` are in the version numbered `seq`."""
    if not pks or seq == 0:
        return set()
    rows = await conn.fetch(  # one primary-key probe per datapoint (see find_datapoints)
        """SELECT x.d FROM unnest($3::bigint[]) AS x(d)
           CROSS JOIN LATERAL (SELECT 1 FROM membership m WHERE m.dataset = $1 AND m.datapoint = x.d
                               AND m.from_seq <= $2 AND m.to_seq > $2 LIMIT 1) AS hit""",
        dataset_pk,
        seq,
        list(pks),
    )
    return {r["d"] for r in rows}


async def members(conn: asyncpg.Connection, dataset_pk: int, seq: int) -> list[int]:
    """Every datapoint pk of the version numbered `seq` (for `set`, whose delta is the whole dataset)."""
    if seq == 0:
        return []
    rows = await conn.fetch(
        "SELECT datapoint FROM membership WHERE dataset = $1 AND from_seq <= $2 AND to_seq > $2", dataset_pk, seq
    )
    return [r["datapoint"] for r in rows]


async def changed_since(conn: asyncpg.Connection, dataset_pk: int, older: int, newer: int) -> tuple[set[int], set[int]]:
    """(in `newer` but not `older`, in `older` but not `newer`) for two seqs, older < newer.

    Only rows opened or closed between the two are read (the from_seq and to_seq indexes), so this
    costs the size of the difference, not of the versions.
    """
    if older == newer:
        return set(), set()
    valid_at = "m2.dataset = $1 AND m2.datapoint = m.datapoint AND m2.from_seq <= {s} AND m2.to_seq > {s}"
    arrived = await conn.fetch(
        f"""SELECT m.datapoint FROM membership m
            WHERE m.dataset = $1 AND m.from_seq > $2 AND m.from_seq <= $3 AND m.to_seq > $3
              AND NOT EXISTS (SELECT 1 FROM membership m2 WHERE {valid_at.format(s="$2")})""",
        dataset_pk,
        older,
        newer,
    )
    left = await conn.fetch(
        f"""SELECT m.datapoint FROM membership m
            WHERE m.dataset = $1 AND m.to_seq > $2 AND m.to_seq <= $3 AND m.from_seq <= $2
              AND NOT EXISTS (SELECT 1 FROM membership m2 WHERE {valid_at.format(s="$3")})""",
        dataset_pk,
        older,
        newer,
    )
    return {r["datapoint"] for r in arrived}, {r["datapoint"] for r in left}


async def write_membership(
    conn: asyncpg.Connection, dataset_pk: int, seq: int, opened: Sequence[int], closed: Sequence[int]
) -> None:
    """Version `seq` differs from `seq - 1` by these arrivals and departures."""
    if closed:
        # The open rows found by primary-key probes, then updated by their row ids (a TID scan).
        await conn.execute(
            f"""UPDATE membership SET to_seq = $2 WHERE ctid = ANY(ARRAY(
                    SELECT o.ctid FROM unnest($3::bigint[]) AS x(d)
                    CROSS JOIN LATERAL (SELECT ctid FROM membership m WHERE m.dataset = $1 AND m.datapoint = x.d
                                        AND m.to_seq = {OPEN} LIMIT 1) AS o))""",
            dataset_pk,
            seq,
            list(closed),
        )
    if opened:
        await conn.copy_records_to_table(
            "membership",
            records=((dataset_pk, pk, seq) for pk in opened),
            columns=("dataset", "datapoint", "from_seq"),
        )


ANCHOR_EVERY = 1000  # members between two page anchors (see the page_anchors table)


async def page(
    conn: asyncpg.Connection | asyncpg.Pool, version: asyncpg.Record, *, limit: int, offset: int
) -> list[asyncpg.Record]:
    """A page of a version's datapoints, in the order they first entered the dataset.

    Past the first ANCHOR_EVERY members the page starts from the nearest anchor below it, so page p
    costs O(ANCHOR_EVERY + size) rather than O(p * size); a 1M-datapoint version read to the end
    by the SDK's pager costs O(n), not O(n^2 / size).
    """
    if offset >= version["datapoints_count"]:
        return []  # past the end (the pager's last request): no need to walk the version to find that out
    after, skip = 0, offset
    if offset >= ANCHOR_EVERY:
        ordinal = offset // ANCHOR_EVERY
        anchor = await _anchor(conn, version, ordinal)
        after, skip = anchor - 1, offset - ordinal * ANCHOR_EVERY
    return await conn.fetch(
        """SELECT d.id, d.content FROM membership m JOIN datapoints d ON d.pk = m.datapoint
           WHERE m.dataset = $1 AND m.from_seq <= $2 AND m.to_seq > $2 AND m.datapoint > $3
           ORDER BY m.datapoint LIMIT $4 OFFSET $5""",
        version["dataset"],
        version["seq"],
        after,
        limit,
        skip,
    )


async def _anchor(conn: asyncpg.Connection | asyncpg.Pool, version: asyncpg.Record, ordinal: int) -> int:
    query = "SELECT datapoint FROM page_anchors WHERE version = $1 AND ordinal = $2"
    found = await conn.fetchval(query, version["pk"], ordinal)
    if found is None:
        await conn.execute(
            f"""INSERT INTO page_anchors (version, ordinal, datapoint)
                SELECT $1, (n - 1) / {ANCHOR_EVERY}, datapoint FROM (
                    SELECT datapoint, row_number() OVER (ORDER BY datapoint) AS n FROM membership
                    WHERE dataset = $2 AND from_seq <= $3 AND to_seq > $3) AS members
                WHERE (n - 1) % {ANCHOR_EVERY} = 0
                ON CONFLICT DO NOTHING""",
            version["pk"],
            version["dataset"],
            version["seq"],
        )
        found = await conn.fetchval(query, version["pk"], ordinal)
    return found


async def batch_after(
    conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int, seq: int, *, after: int, limit: int
) -> list[asyncpg.Record]:
    """The next datapoints of a version after datapoint pk `after` (keyset paging, for exports)."""
    return await conn.fetch(
        """SELECT m.datapoint AS pk, d.id, d.content FROM membership m JOIN datapoints d ON d.pk = m.datapoint
           WHERE m.dataset = $1 AND m.from_seq <= $2 AND m.to_seq > $2 AND m.datapoint > $3
           ORDER BY m.datapoint LIMIT $4""",
        dataset_pk,
        seq,
        after,
        limit,
    )


async def input_columns(conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int, seq: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT DISTINCT jsonb_object_keys(d.content -> 'inputs') AS k
           FROM membership m JOIN datapoints d ON d.pk = m.datapoint
           WHERE m.dataset = $1 AND m.from_seq <= $2 AND m.to_seq > $2 AND d.content ? 'inputs' ORDER BY k""",
        dataset_pk,
        seq,
    )
    return [r["k"] for r in rows]


async def diff_page(
    conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int, present: int, absent: int, *, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    """Datapoints in version `present` but not in version `absent` (one side of a diff), a page and the total."""
    valid = "{a}.dataset = $1 AND {a}.from_seq <= {s} AND {a}.to_seq > {s}"
    where = f"""{valid.format(a="m", s="$2")} AND NOT EXISTS
        (SELECT 1 FROM membership m2 WHERE m2.datapoint = m.datapoint AND {valid.format(a="m2", s="$3")})"""
    # Narrow to rows opened (or closed) after `absent`, so the from_seq / to_seq indexes bound the work.
    narrow = "m.from_seq > $3" if present > absent else "m.to_seq <= $3"
    rows = await conn.fetch(
        f"""SELECT d.id, d.content FROM membership m JOIN datapoints d ON d.pk = m.datapoint
            WHERE {where} AND {narrow} ORDER BY m.datapoint LIMIT $4 OFFSET $5""",
        dataset_pk,
        present,
        absent,
        limit,
        offset,
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM membership m WHERE {where} AND {narrow}", dataset_pk, present, absent
    )
    return rows, total


# Environments -----------------------------------------------------------------------------------


async def environments(conn: asyncpg.Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM environments ORDER BY tag, name")


async def environment(conn: asyncpg.Connection | asyncpg.Pool, ref: str) -> asyncpg.Record | None:
    """An environment by id (`env_...`) or by name."""
    return await conn.fetchrow("SELECT * FROM environments WHERE id = $1 OR name = $1", ref)


async def default_environment(conn: asyncpg.Connection | asyncpg.Pool) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM environments WHERE tag = 'default' ORDER BY name LIMIT 1")


async def deployed(conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int, env_id: str) -> asyncpg.Record | None:
    """The version deployed to an environment, if any."""
    return await conn.fetchrow(
        "SELECT v.* FROM deployments x JOIN versions v ON v.pk = x.version WHERE x.dataset = $1 AND x.environment = $2",
        dataset_pk,
        env_id,
    )


async def deployments(conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int) -> list[asyncpg.Record]:
    """Each deployment of a dataset: the environment and the version's pk."""
    return await conn.fetch(
        """SELECT e.*, x.version FROM deployments x JOIN environments e ON e.id = x.environment
           WHERE x.dataset = $1 ORDER BY e.tag, e.name""",
        dataset_pk,
    )


async def deploy(
    conn: asyncpg.Connection, dataset_pk: int, env_id: str, version_pk: int, *, moved_by: str | None
) -> None:
    """Point an environment at a version (or at nothing: `version_pk` None), and log the move."""
    before = await conn.fetchval(
        """DELETE FROM deployments x USING versions v WHERE x.dataset = $1 AND x.environment = $2 AND v.pk = x.version
           RETURNING v.id""",
        dataset_pk,
        env_id,
    )
    after = None
    if version_pk is not None:
        await conn.execute(
            "INSERT INTO deployments (dataset, environment, version) VALUES ($1, $2, $3)",
            dataset_pk,
            env_id,
            version_pk,
        )
        after = await conn.fetchval("SELECT id FROM versions WHERE pk = $1", version_pk)
    if before != after:
        await conn.execute(
            """INSERT INTO environment_moves (dataset, environment, from_version, to_version, moved_by)
               SELECT $1, name, $3, $4, $5 FROM environments WHERE id = $2""",
            dataset_pk,
            env_id,
            before,
            after,
            moved_by,
        )


async def environment_moves(
    conn: asyncpg.Connection | asyncpg.Pool, dataset_pk: int, *, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        "SELECT * FROM environment_moves WHERE dataset = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        dataset_pk,
        limit,
        offset,
    )
    total = await conn.fetchval("SELECT count(*) FROM environment_moves WHERE dataset = $1", dataset_pk)
    return rows, total


# Idempotency keys of event deltas ---------------------------------------------------------------


async def claim_request(conn: asyncpg.Connection, request_id: str) -> bool:
    """Record an event delta's idempotency key; False if a delta with this key was handled already."""
    return (
        await conn.fetchval(
            """INSERT INTO delta_requests (request_id, outcome) VALUES ($1, 'pending')
               ON CONFLICT DO NOTHING RETURNING 1""",
            request_id,
        )
        is not None
    )


async def settle_request(conn: asyncpg.Connection, request_id: str, outcome: str, version_id: str | None) -> None:
    await conn.execute(
        "UPDATE delta_requests SET outcome = $2, version_id = $3 WHERE request_id = $1", request_id, outcome, version_id
    )


# The catalog's dataset repos --------------------------------------------------------------------


async def upsert_catalog_dataset(conn: asyncpg.Connection, repo_id: str, *, private: bool, author: str) -> None:
    await conn.execute(
        """INSERT INTO catalog_datasets (repo_id, private, author) VALUES ($1, $2, $3)
           ON CONFLICT (repo_id) DO UPDATE SET private = EXCLUDED.private, author = EXCLUDED.author""",
        repo_id,
        private,
        author,
    )


async def delete_catalog_dataset(conn: asyncpg.Connection, repo_id: str) -> None:
    await conn.execute("DELETE FROM catalog_datasets WHERE repo_id = $1", repo_id)


async def version_imported_from(conn: asyncpg.Connection, dataset_pk: int, sha256: str) -> asyncpg.Record | None:
    """The newest live version imported from a catalog file with this SHA-256 (see catalog_sync.py)."""
    return await conn.fetchrow(
        f"""{_VERSION} WHERE dataset = $1 AND attributes -> 'imported_from' ->> 'sha256' = $2 AND status <> 'deleted'
            ORDER BY seq DESC LIMIT 1""",
        dataset_pk,
        sha256,
    )
