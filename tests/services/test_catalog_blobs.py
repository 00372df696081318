"""The local blob store: streamed, verified, content-addressed, and never holding a file in memory."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.catalog.blobs import BlobMismatch, LocalBlobStore

MB = 1024 * 1024


async def chunks(block: bytes, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield bytes(bytearray(block))  # a fresh object per chunk, as a network stream delivers them


async def test_a_large_upload_is_streamed_not_held_in_memory(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    block = bytes(range(256)) * 4096  # 1 MB
    count = 192
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(block)
    tracemalloc.start()
    try:
        stored = await store.put(chunks(block, count), expect_sha256=expected.hexdigest(), expect_size=count * MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (stored.sha256, stored.size) == (expected.hexdigest(), count * MB)
    assert peak < 12 * MB, f"peak Python allocations {peak / MB:.1f} MB while storing {count} MB"
    read_back = hashlib.sha256()
    async for chunk in store.read(stored.sha256):
        read_back.update(chunk)
    assert read_back.hexdigest() == stored.sha256
    window = b"".join([c async for c in store.read(stored.sha256, 1_000_000, 1_000_010)])
    assert window == block[1_000_000:1_000_010]


async def test_a_mismatch_stores_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = b"the real bytes"
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    with pytest.raises(BlobMismatch, match="sha256"):
        await store.put(chunks(data, 1), expect_sha256=wrong)
    with pytest.raises(BlobMismatch, match="announced"):
        await store.put(chunks(data, 1), expect_size=len(data) + 1)
    with pytest.raises(BlobMismatch, match="more than"):
        await store.put(chunks(data, 2), expect_size=len(data))
    assert not await store.exists(hashlib.sha256(data).hexdigest())
    assert files_under(tmp_path) == []  # no partial files left behind
    stored = await store.put_bytes(data)
    assert await store.exists(stored.sha256)
    assert files_under(tmp_path) == [store.path(stored.sha256)]


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]
