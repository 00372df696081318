"""Content-addressed file contents: one small interface, and the local-disk store behind it.

Every file a commit names (regular or LFS) is a blob keyed by its sha256. Uploads
stream through a temporary file while being hashed, so a file of any size costs
one chunk of memory; the blob appears under its final name only once it is
complete and (when the caller knows what to expect) verified.
An S3-compatible store implements the same methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 4 * 1024 * 1024  # bytes per block handed to the threads that hash and write


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


class BlobMismatch(ValueError):
    """The bytes received are not the ones announced (size or sha256); nothing was stored."""


class BlobStore(Protocol):
    async def put(
        self, chunks: AsyncIterable[bytes], *, expect_sha256: str | None = None, expect_size: int | None = None
    ) -> StoredBlob: ...

    async def put_bytes(self, data: bytes) -> StoredBlob: ...

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of the blob (end None: to its end)."""
        ...

    async def exists(self, sha256: str) -> bool: ...

    def local_file(self, sha256: str) -> Path | None:
        """The blob as a file on this machine, when the store keeps it so (the server can then hand it to the
        kernel with sendfile); None for a remote store, whose blobs are read with `read`."""
        ...


class LocalBlobStore:
    """Blobs as files `<root>/ab/cd/<sha256>`; partial uploads under `<root>/tmp/`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(
        self, chunks: AsyncIterable[bytes], *, expect_sha256: str | None = None, expect_size: int | None = None
    ) -> StoredBlob:
        temp = self.tmp / uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        # Hashing and writing block, and the hash is the larger cost: pieces are gathered into batches of about a
        # block, and each batch is hashed in one thread and written in another while the event loop already
        # receives the next one. Pieces are passed on as they came (no joining: a copy of every byte saved);
        # at most two batches are held at any time.
        in_flight: asyncio.Future[object] | None = None
        handed_over: list[bytes] = []
        try:
            with temp.open("wb") as out:
                try:
                    async for batch in _batches(chunks, CHUNK):
                        size += sum(len(piece) for piece in batch)
                        if expect_size is not None and size > expect_size:
                            raise BlobMismatch(f"received more than the {expect_size} bytes announced")
                        if in_flight is not None:
                            await in_flight
                        # A worker thread lets go of its batch a moment after the batch's future is done, and that
                        # moment may come after the next batch is full: a third batch held. Emptying the list now
                        # frees its pieces, whoever still holds the list.
                        handed_over.clear()
                        handed_over = batch
                        in_flight = asyncio.gather(
                            asyncio.to_thread(_hash, digest, batch), asyncio.to_thread(out.writelines, batch)
                        )
                    if in_flight is not None:
                        await in_flight
                finally:
                    if in_flight is not None:  # refused or cut off half-way: let the threads finish first
                        with contextlib.suppress(Exception):
                            await asyncio.shield(in_flight)
            sha256 = digest.hexdigest()
            if expect_size is not None and size != expect_size:
                raise BlobMismatch(f"received {size} bytes, {expect_size} were announced")
            if expect_sha256 is not None and sha256 != expect_sha256:
                raise BlobMismatch(f"the content's sha256 is {sha256}, {expect_sha256} was announced")
            final = self.path(sha256)
            if final.exists():
                temp.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, final)  # atomic: readers see a whole blob or none
            return StoredBlob(sha256, size)
        finally:
            temp.unlink(missing_ok=True)

    async def put_bytes(self, data: bytes) -> StoredBlob:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.put(one())

    async def read(self, sha256: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        with self.path(sha256).open("rb") as src:
            src.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                want = CHUNK if left is None else min(CHUNK, left)
                chunk = await asyncio.to_thread(src.read, want)
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    async def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def local_file(self, sha256: str) -> Path | None:
        return self.path(sha256)


async def _batches(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[list[bytes]]:
    """The pieces in batches of at least `size` bytes (the last may hold less): network reads arrive in pieces
    of some KiB, and a thread hop per piece would cost more than the work it hands over."""
    batch: list[bytes] = []
    held = 0
    async for piece in chunks:
        batch.append(piece)
        held += len(piece)
        if held >= size:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _hash(digest: hashlib._Hash, pieces: list[bytes]) -> None:
    for piece in pieces:
        digest.update(piece)  # releases the GIL for pieces over 2 KiB
