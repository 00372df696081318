"""Versions to and from catalog dataset repos: publish a version as a parquet commit with a tag, import a file.

Publish writes the version to `data/train.parquet` on the repo's main branch in one commit titled
"Publish <path> version <dsv_id>", and tags that commit with the version's name (else its id), so
`datasets.load_dataset(repo, revision=tag)` reads exactly that version. Each column holds JSON text
(`inputs`, `messages`, `target`; null where the datapoint has none) beside the datapoint's `id`: JSON
text keeps every datapoint exactly as stored, whatever keys and value types rows mix (a parquet struct
would add the other rows' keys as nulls). Publishing again is a no-op answering the same commit: the
tag is found first; a commit an earlier try made but did not tag is found by its title.

Import reads a JSONL or parquet file of the repo with `inputs` / `messages` / `target` columns (JSON
text or nested values) and applies it as a delta (default `set`). The version records the file's
SHA-256 in `attributes.imported_from`; importing the same bytes into the dataset again answers that
version instead of applying them again.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from services.versioning import datapoints, store
from services.versioning.catalog_client import CatalogClient
from services.versioning.errors import VersioningError

DATA_FILE = "data/train.parquet"
PUBLISH_BATCH = 5000
# A commit sends the file inline (base64 on one NDJSON line, which the catalog caps at 32 MiB by default).
MAX_PUBLISH_BYTES = 24 * 1024 * 1024
_SCHEMA = pa.schema([("id", pa.string()), ("inputs", pa.string()), ("messages", pa.string()), ("target", pa.string())])


@dataclass(frozen=True)
class Published:
    repo_id: str
    tag: str
    commit: str
    created: bool  # False: the version was published there before (this call changed nothing)


def publish_title(dataset: asyncpg.Record, version: asyncpg.Record) -> str:
    return f"Publish {dataset['path']} version {version['id']}"


async def version_parquet(pool: asyncpg.Pool, dataset: asyncpg.Record, version: asyncpg.Record) -> bytes:
    """The version's datapoints, in page order, as one parquet file (JSON text columns)."""
    out = io.BytesIO()
    with pq.ParquetWriter(out, _SCHEMA) as writer:
        after = 0
        while rows := await store.batch_after(pool, dataset["pk"], version["seq"], after=after, limit=PUBLISH_BATCH):
            after = rows[-1]["pk"]
            columns: dict[str, list[str | None]] = {"id": [r["id"] for r in rows]}
            for field in datapoints.FIELDS:
                columns[field] = [
                    orjson.dumps(r["content"][field]).decode() if field in r["content"] else None for r in rows
                ]
            writer.write_table(pa.table(columns, schema=_SCHEMA))
            if out.tell() > MAX_PUBLISH_BYTES:
                break
    if out.tell() > MAX_PUBLISH_BYTES:
        raise VersioningError(
            400,
            "TooLarge",
            f"version {version['id']} is more than {MAX_PUBLISH_BYTES} bytes as parquet; too large to publish",
        )
    return out.getvalue()


async def publish(
    pool: asyncpg.Pool, client: CatalogClient, dataset: asyncpg.Record, version: asyncpg.Record, repo_id: str, tag: str
) -> Published:
    title = publish_title(dataset, version)
    if (done := await _published_at(client, repo_id, tag, title)) is not None:
        return Published(repo_id, tag, done, created=False)
    head = await client.commit_title(repo_id, "main")
    if head is not None and head[1] == title:
        commit = head[0]  # an earlier try committed, then failed before tagging
    else:
        content = await version_parquet(pool, dataset, version)
        description = f"{version['datapoints_count']} datapoints of versioned dataset {dataset['id']}"
        commit = await client.commit_file(repo_id, DATA_FILE, content, title, description)
    if not await client.create_tag(repo_id, tag, commit, title):  # tagged meanwhile: by a parallel try of ours?
        if (done := await _published_at(client, repo_id, tag, title)) is None:
            raise _tag_taken(repo_id, tag)
        commit = done
    return Published(repo_id, tag, commit, created=True)


async def _published_at(client: CatalogClient, repo_id: str, tag: str, title: str) -> str | None:
    """The commit `tag` points at if it is this version's publication; None if no such tag; 409 if another's."""
    target = await client.tag_target(repo_id, tag)
    if target is None:
        return None
    at = await client.commit_title(repo_id, target)
    if at is None or at[1] != title:
        raise _tag_taken(repo_id, tag)
    return target


def _tag_taken(repo_id: str, tag: str) -> VersioningError:
    return VersioningError(409, "TagTaken", f"{repo_id} already has a tag {tag!r} on a commit that is not this version")


# Import ------------------------------------------------------------------------------------------


def parse_file(path: str, raw: bytes) -> list[datapoints.Datapoint]:
    """The datapoints of a JSONL or parquet file (JSON text cells decoded), validated and canonical."""
    return datapoints.parse(_file_rows(path, raw), loc=("body", "file"))


def _file_rows(path: str, raw: bytes) -> list[dict[str, Any]]:
    try:
        if path.endswith(".parquet"):
            table = pq.read_table(io.BytesIO(raw))
            missing = [f for f in datapoints.FIELDS if f not in table.column_names]
            if len(missing) == len(datapoints.FIELDS):
                raise _bad_file(path, "it has none of the columns inputs, messages, target")
            rows = table.select([f for f in datapoints.FIELDS if f in table.column_names]).to_pylist()
        elif path.endswith((".jsonl", ".json", ".ndjson")):
            rows = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            raise _bad_file(path, "import reads .jsonl and .parquet files")
    except (pa.ArrowException, orjson.JSONDecodeError, OSError) as exc:
        raise _bad_file(path, f"it cannot be read ({exc})") from exc
    if len(rows) > datapoints.MAX_DATAPOINTS:
        raise VersioningError(
            400, "TooLarge", f"{path} has {len(rows)} rows; an import takes at most {datapoints.MAX_DATAPOINTS}"
        )
    return [_decoded(row, path, i) for i, row in enumerate(rows)]


def _decoded(row: Any, path: str, line: int) -> Any:
    if not isinstance(row, dict):
        raise _bad_file(path, f"row {line + 1} is not an object")
    out = {}
    for field in datapoints.FIELDS:
        value = row.get(field)
        if isinstance(value, str):  # JSON text, as publish writes it
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                raise _bad_file(path, f"row {line + 1}: {field} is text that is not JSON") from exc
        out[field] = value
    return out


def _bad_file(path: str, why: str) -> VersioningError:
    return VersioningError(422, "InvalidImportFile", f"cannot import {path}: {why}", loc=["body", "file"])


def file_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
