"""Reading the Hub's NDJSON commit payload from a stream, one bounded line at a time.

Inline (`file`) contents go to the blob store as they are read, so a body of any
length holds at most one line in memory. Nothing here touches the database: a
payload that is refused half-way leaves the repo as it was (blobs already
written are content-addressed and unreferenced).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

import orjson

from services.catalog.blobs import BlobStore
from services.catalog.errors import catalog_error
from services.catalog.gitfiles import clean_folder, clean_path, git_blob_oid

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class AddFile:
    path: str
    size: int
    sha256: str
    git_oid: str


@dataclass(frozen=True)
class AddLfsFile:
    path: str
    sha256: str
    size: int | None  # copies of LFS files come without a size


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


Operation = AddFile | AddLfsFile | DeleteFile | DeleteFolder


@dataclass
class CommitPayload:
    summary: str = ""
    description: str = ""
    parent_commit: str | None = None
    operations: list[Operation] = field(default_factory=list)


async def ndjson_lines(chunks: AsyncIterable[bytes], max_line: int) -> AsyncIterator[bytes]:
    """Lines of the body, each refused with 413 once it grows past `max_line` bytes."""
    pending = bytearray()
    async for chunk in chunks:
        pending += chunk
        while (cut := pending.find(b"\n")) >= 0:
            line = bytes(pending[:cut])
            del pending[: cut + 1]
            _check_length(len(line), max_line)
            yield line
        _check_length(len(pending), max_line)
    if pending:
        yield bytes(pending)


def _check_length(size: int, max_line: int) -> None:
    if size > max_line:
        raise catalog_error(
            413,
            "PayloadTooLarge",
            f"a line of the commit payload is longer than {max_line} bytes; send large files through LFS",
        )


async def read_payload(chunks: AsyncIterable[bytes], blobs: BlobStore, *, max_line: int) -> CommitPayload:
    payload = CommitPayload()
    seen_header = False
    number = 0
    async for raw in ndjson_lines(chunks, max_line):
        number += 1
        if not raw.strip():
            continue
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _bad(number, f"not valid JSON ({exc})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise _bad(number, 'expected {"key": ..., "value": {...}}')
        key, value = item.get("key"), item["value"]
        if key == "header":
            if seen_header or payload.operations:
                raise _bad(number, "the header must come once, first")
            seen_header = True
            payload.summary = _text(value, "summary", number)
            payload.description = _text(value, "description", number)
            parent = value.get("parentCommit")
            if parent is not None and not (isinstance(parent, str) and re.fullmatch(r"[0-9a-f]{40}", parent)):
                raise _bad(number, "parentCommit must be a 40-character lowercase hex commit id")
            payload.parent_commit = parent
            continue
        if not seen_header:
            raise _bad(number, "the first line must be the header")
        payload.operations.append(await _operation(key, value, number, blobs))
    if not seen_header:
        raise catalog_error(400, "InvalidCommit", "the commit payload is empty: it needs a header line")
    if not payload.summary.strip():
        raise catalog_error(400, "InvalidCommit", "the commit needs a summary (its title)")
    return payload


async def _operation(key: object, value: dict[str, object], number: int, blobs: BlobStore) -> Operation:
    if key == "file":
        path = clean_path(value.get("path"))
        if value.get("encoding", "base64") != "base64":
            raise _bad(number, "file contents must be base64 encoded")
        content = value.get("content")
        if not isinstance(content, str):
            raise _bad(number, "a file line needs its content as a base64 string")
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _bad(number, f"the content of {path!r} is not valid base64") from exc
        stored = await blobs.put_bytes(data)
        return AddFile(path, stored.size, stored.sha256, git_blob_oid(data))
    if key == "lfsFile":
        path = clean_path(value.get("path"))
        oid, size = value.get("oid"), value.get("size")
        if value.get("algo", "sha256") != "sha256" or not (isinstance(oid, str) and SHA256.match(oid)):
            raise _bad(number, f"the LFS file {path!r} needs a sha256 oid (64 lowercase hex)")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise _bad(number, f"the size of the LFS file {path!r} must be a non-negative integer")
        return AddLfsFile(path, oid, size)
    if key == "deletedFile":
        return DeleteFile(clean_path(value.get("path")))
    if key == "deletedFolder":
        return DeleteFolder(clean_folder(value.get("path")))
    raise _bad(number, f"unknown operation {key!r}: expected file, lfsFile, deletedFile or deletedFolder")


def _text(value: dict[str, object], key: str, number: int) -> str:
    text = value.get(key) or ""
    if not isinstance(text, str):
        raise _bad(number, f"{key} must be a string")
    return text


def _bad(number: int, problem: str) -> Exception:
    return catalog_error(400, "InvalidCommit", f"line {number} of the commit payload: {problem}")
