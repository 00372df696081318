"""The parquet conversion job: a dataset's CSV, JSON Lines and JSON files at one main commit, as parquet
shards committed to `refs/convert/parquet` (`{config}/{split}/NNNN.parquet`, the Hub's layout).

Configs and splits are the ones `datasets` would find (services/catalog/parquet.py). Each split is
converted on its own: a split whose files cannot be read is left out and its error recorded, the others
are committed. The commit is made only if the commit converted is still the one wanted, under the repo's
lock, so a conversion that a newer commit superseded while it ran never replaces the newer one.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from contracts.catalog import RepoUpdated, UpdatedRef
from services.catalog import parquet, store_conversions, store_files
from services.catalog.blobs import BlobStore
from services.catalog.commits import MAX_EVENT_PATHS, gitattributes_row, new_commit_sha
from services.catalog.convert_rows import FORMATS, ConversionError, Limits, convert_split
from services.catalog.gitfiles import git_blob_oid, lfs_pointer
from services.runtime.outbox import Outbox

log = logging.getLogger(__name__)

CONVERT_REF = "refs/convert/parquet"
CONVERTER = "parquet-converter"  # the author of conversion commits, as on the Hub
MAX_README_BYTES = 1024 * 1024
SOURCE_SUFFIXES = tuple(FORMATS)


@dataclass(frozen=True)
class ConversionDeps:
    pool: asyncpg.Pool
    outbox: Outbox
    blobs: BlobStore
    work_dir: Path
    limits: Limits


@dataclass(frozen=True)
class Outcome:
    converted_sha: str | None
    """The refs/convert/parquet commit made; None when there was nothing to convert or it was superseded."""
    superseded: bool
    errors: list[dict[str, str]]


async def readme_text(blobs: BlobStore, files: list[asyncpg.Record]) -> str | None:
    """The README.md among a revision's files, as text (None: none, or too large to be a card)."""
    readme = next((f for f in files if f["path"] == "README.md"), None)
    if readme is None or readme["size"] > MAX_README_BYTES:
        return None
    return b"".join([c async for c in blobs.read(readme["sha256"])]).decode("utf-8", "replace")


async def convert(deps: ConversionDeps, repo_id: str, wanted_sha: str) -> Outcome:
    """Convert the dataset at `wanted_sha` and commit the shards, unless a newer commit is wanted by then."""
    files = await store_files.files(deps.pool, repo_id, wanted_sha)
    paths = [f["path"] for f in files]
    readme = await readme_text(deps.blobs, files)
    if parquet.layout(paths, readme):
        return await _finish(deps, repo_id, wanted_sha, [], [])  # stored as parquet: served as it is
    sources = parquet.layout(paths, readme, SOURCE_SUFFIXES)
    errors = [
        _error(config, split, "", f"data_files {patterns} in the README's configs match no file")
        for config, split, patterns in parquet.unmatched_card_splits(paths, readme)
    ]
    by_path = {f["path"]: f for f in files}
    shards: list[tuple[str, Path]] = []
    work = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="convert-", dir=deps.work_dir))
    try:
        for config, splits in sources.items():
            for split, split_files in splits.items():
                try:
                    shards += await _convert_split(deps, work, config, split, [by_path[p] for p in split_files])
                except ConversionError as exc:
                    log.warning("dataset %s: %s/%s not converted: %s", repo_id, config, split, exc)
                    errors.append(_error(config, split, str(exc).split(":", 1)[0], str(exc)))
        return await _finish(deps, repo_id, wanted_sha, shards, errors)
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)


def _error(config: str, split: str, path: str, error: str) -> dict[str, str]:
    return {"config": config, "split": split, "path": path, "error": error}


async def _convert_split(
    deps: ConversionDeps, work: Path, config: str, split: str, files: list[asyncpg.Record]
) -> list[tuple[str, Path]]:
    """One split's shards: (path in the convert ref, local file)."""
    spooled = work / "sources"
    await asyncio.to_thread(spooled.mkdir, exist_ok=True)
    try:
        local = []
        for n, f in enumerate(files):
            target = spooled / f"{n:05d}{Path(f['path']).suffix}"
            await _spool(deps.blobs, f["sha256"], target)
            local.append((f["path"], target))
        out = work / "shards" / config / split
        written = await asyncio.to_thread(convert_split, local, out, deps.limits)
    finally:
        await asyncio.to_thread(shutil.rmtree, spooled, True)
    log.info("converted %d file(s) to %s/%s: %d shard(s)", len(files), config, split, len(written))
    return [(f"{config}/{split}/{shard.name}", shard) for shard in written]


async def _spool(blobs: BlobStore, sha256: str, target: Path) -> None:
    """A blob copied to a local file (pyarrow's readers want a file; the store may be remote)."""
    with target.open("wb") as out:
        chunks: AsyncIterator[bytes] = blobs.read(sha256)
        async for chunk in chunks:
            await asyncio.to_thread(out.write, chunk)


async def _store_shard(blobs: BlobStore, local: Path) -> tuple[int, str]:
    async def chunks() -> AsyncIterator[bytes]:
        with local.open("rb") as src:
            while chunk := await asyncio.to_thread(src.read, 1024 * 1024):
                yield chunk

    stored = await blobs.put(chunks())
    return stored.size, stored.sha256


async def _finish(
    deps: ConversionDeps,
    repo_id: str,
    wanted_sha: str,
    shards: list[tuple[str, Path]],
    errors: list[dict[str, str]],
) -> Outcome:
    stored = [(path, *await _store_shard(deps.blobs, local)) for path, local in shards]
    async with deps.pool.acquire() as conn, conn.transaction():
        await store_files.lock_repo(conn, repo_id)
        if await store_conversions.lock_wanted(conn, repo_id) != wanted_sha:
            log.info("dataset %s: conversion of %s superseded by a newer commit; discarded", repo_id, wanted_sha)
            return Outcome(None, True, errors)
        converted = await _commit(conn, deps.outbox, repo_id, wanted_sha, stored) if stored else None
        await store_conversions.finish(conn, repo_id, wanted_sha, converted, errors)
    return Outcome(converted, False, errors)


async def _commit(
    conn: asyncpg.Connection, outbox: Outbox, repo_id: str, source_sha: str, shards: list[tuple[str, int, str]]
) -> str:
    """A commit on refs/convert/parquet holding exactly these shards (and the default .gitattributes)."""
    repo = await store_conversions.repo_by_id(conn, repo_id)
    parent = await store_files.ref_target(conn, repo_id, "convert", "parquet")
    title = f"Update parquet files (from {source_sha})"
    sha = new_commit_sha(repo_id, parent, title)
    await store_files.insert_commit(
        conn, repo_id=repo_id, sha=sha, parent_sha=parent, title=title, message="", author=CONVERTER
    )
    rows = [gitattributes_row(repo_id, sha)]
    for path, size, sha256 in shards:
        await store_files.add_repo_object(conn, repo_id, sha256, size)
        rows.append((repo_id, sha, path, size, sha256, git_blob_oid(lfs_pointer(sha256, size)), True, sha))
    await store_files.insert_files(conn, rows)
    await store_files.set_ref(conn, repo_id, "convert", "parquet", sha)
    paths = sorted(path for path, _, _ in shards)
    await outbox.add(
        conn,
        RepoUpdated(
            repo_type=repo["repo_type"],
            repo_id=f"{repo['namespace']}/{repo['name']}",
            head_sha=await store_files.ref_target(conn, repo_id, "branch", "main"),
            updated_refs=[UpdatedRef(ref=CONVERT_REF, old_sha=parent, new_sha=sha)],
            changed_paths=paths[:MAX_EVENT_PATHS],
            changed_paths_truncated=len(paths) > MAX_EVENT_PATHS,
        ),
    )
    return sha
