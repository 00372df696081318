"""A large LFS upload streams through the catalog: its memory stays bounded by a few blocks, whatever the size.

The catalog runs in this process (the `catalog` fixture), so Python's own allocation tracker sees what the
upload costs it. The file is generated as it is sent and never exists whole, here or anywhere. The 1 GB
figures (rate, RSS sampled from a separate server process) are in `bench/catalog --transfer-only`.
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator

import orjson

from services.catalog.blobs import CHUNK
from tests.catalog.conftest import Catalog

SIZE = 256 * 1024 * 1024
PIECE = 1024 * 1024
BOUND = 8 * CHUNK  # two batches in flight and the pieces on their way: far below the file's size


def _piece(i: int, block: bytes) -> bytes:
    return i.to_bytes(8, "little") + block[8:]  # every piece differs


async def _generated(block: bytes) -> AsyncIterator[bytes]:
    for i in range(SIZE // PIECE):
        yield _piece(i, block)


async def test_a_256_mb_upload_is_streamed_not_held(catalog: Catalog) -> None:
    block = hashlib.sha512(b"seed").digest() * (PIECE // 64)
    digest = hashlib.sha256()
    for i in range(SIZE // PIECE):
        digest.update(_piece(i, block))
    oid = digest.hexdigest()
    auth = {"Authorization": f"Bearer {catalog.admin_token}"}
    status, _, _ = await catalog.call("POST", "/api/repos/create", token=catalog.admin_token, json={"name": "big"})
    assert status == 200
    batch = {"operation": "upload", "objects": [{"oid": oid, "size": SIZE}]}
    async with catalog.http.post(
        f"{catalog.url}/admin/big.git/info/lfs/objects/batch", data=orjson.dumps(batch), headers=auth
    ) as r:
        href = orjson.loads(await r.read())["objects"][0]["actions"]["upload"]["href"]

    tracemalloc.start()
    try:
        async with catalog.http.put(href, data=_generated(block), headers={"Content-Length": str(SIZE)}) as r:
            answer = await r.read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status == 200, answer
    assert peak < BOUND, f"the upload held {peak / 2**20:.0f} MiB at its peak"

    commit = [
        {"key": "header", "value": {"summary": "big"}},
        {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": oid, "size": SIZE}},
    ]
    async with catalog.http.post(
        f"{catalog.url}/api/models/admin/big/commit/main",
        data=b"\n".join(orjson.dumps(line) for line in commit),
        headers={**auth, "Content-Type": "application/x-ndjson"},
    ) as r:
        assert r.status == 200, await r.read()
    async with catalog.http.head(f"{catalog.url}/admin/big/resolve/main/big.bin", headers=auth) as r:
        assert (r.status, r.headers["X-Linked-Size"], r.headers["ETag"]) == (200, str(SIZE), f'"{oid}"')
