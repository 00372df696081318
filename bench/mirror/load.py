"""The upstream's synthetic repos: each with one commit, two files and a main branch, loaded with COPY."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.running import say
from services.catalog import store_files, store_listing, store_mirror
from services.catalog.gitfiles import git_blob_oid

AUTHORS = 10
BATCH = 20_000
START = datetime(2025, 1, 1, tzinfo=UTC)


def authors() -> list[str]:
    return [f"org{a}" for a in range(AUTHORS)]


async def load_upstream(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store_listing.copy_users(conn, authors())
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        repos, commits, files, refs, heads = [], [], [], [], []
        for i in range(first, min(count, first + BATCH)):
            repo_id, sha, owner = secrets.token_hex(12), secrets.token_hex(20), f"org{i % AUTHORS}"
            when = START + timedelta(seconds=i)
            repos.append((repo_id, "dataset", owner, f"set-{i}", False, owner, when, when, ["bench"], i % 7, i))
            commits.append((repo_id, sha, None, "initial data", "", owner, when))
            for path, size in (("README.md", 120), ("data/train.csv", 4096 + i)):
                files.append((repo_id, sha, path, size, secrets.token_hex(32), secrets.token_hex(20), False, sha))
            refs.append((repo_id, "branch", "main", sha))
            heads.append((repo_id, sha))
        async with pool.acquire() as conn, conn.transaction():
            await store_listing.copy_repos(conn, repos)
            await store_mirror.insert_commits(conn, commits)
            await store_files.insert_files(conn, files)
            await store_mirror.insert_refs(conn, refs)
            await store_mirror.set_heads(conn, heads)
        done = min(count, first + BATCH)
        say(f"upstream: {done:,}/{count:,} repos ({done / (time.perf_counter() - started):,.0f}/s)")
    await store_listing.vacuum_analyze_repos(pool)


async def change_some(pool: asyncpg.Pool, fraction: float) -> int:
    """A new commit on main for every 1/fraction-th repo (a file changes); how many repos changed."""
    step = max(1, round(1 / fraction))
    rows = await pool.fetch("SELECT id, head_sha, namespace FROM repos ORDER BY id")
    changed = rows[::step]
    for row in changed:
        sha = secrets.token_hex(20)
        async with pool.acquire() as conn, conn.transaction():
            await store_mirror.insert_commits(
                conn, [(row["id"], sha, row["head_sha"], "more data", "", row["namespace"], datetime.now(UTC))]
            )
            await store_files.copy_files(conn, row["id"], row["head_sha"], sha, ["data/train.csv"])
            oid = secrets.token_hex(20)
            await store_files.insert_files(
                conn, [(row["id"], sha, "data/train.csv", 9999, secrets.token_hex(32), oid, False, sha)]
            )
            await store_files.set_ref(conn, row["id"], "branch", "main", sha)
            await store_files.set_head(conn, row["id"], sha)
    return len(changed)


def write_big_file(blob_root: Path, megabytes: int) -> tuple[str, int, Path]:
    """Random bytes into the upstream's blob store (content-addressed): (sha256, size, path)."""
    temp = blob_root / "tmp" / "bench-big"
    temp.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    block = secrets.token_bytes(1024 * 1024)
    with temp.open("wb") as out:
        for i in range(megabytes):
            piece = block[i % 997 :] + block[: i % 997]  # differs per MiB, cheap to make
            digest.update(piece)
            out.write(piece)
    sha256 = digest.hexdigest()
    final = blob_root / sha256[:2] / sha256[2:4] / sha256
    final.parent.mkdir(parents=True, exist_ok=True)
    temp.replace(final)
    return sha256, megabytes * 1024 * 1024, final


async def add_big_file_repo(pool: asyncpg.Pool, sha256: str, size: int) -> str:
    """A dataset `org0/big` holding the file as an LFS file `big.bin`; its repo id."""
    from services.catalog.gitfiles import lfs_pointer

    repo_id, sha = secrets.token_hex(12), secrets.token_hex(20)
    async with pool.acquire() as conn, conn.transaction():
        await store_listing.copy_repos(
            conn, [(repo_id, "dataset", "org0", "big", False, "org0", START, START, [], 0, 0)]
        )
        await store_mirror.insert_commits(conn, [(repo_id, sha, None, "a big file", "", "org0", START)])
        oid = git_blob_oid(lfs_pointer(sha256, size))
        await store_files.insert_files(conn, [(repo_id, sha, "big.bin", size, sha256, oid, True, sha)])
        await store_mirror.insert_refs(conn, [(repo_id, "branch", "main", sha)])
        await store_mirror.set_heads(conn, [(repo_id, sha)])
    return repo_id
