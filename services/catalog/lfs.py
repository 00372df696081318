"""The LFS batch API's upload side: signed upload URLs that need no Authorization header.

The Hub client PUTs LFS content without its token, so the URL itself carries
the permission: repo, object, size and expiry, signed with a key every catalog
process reads from the database. A URL cannot be stretched to another object,
size or repo, and stops working when it expires. A URL issued to a reader of the repo (someone uploading for a
pull request of their own) also names them, signed: what they upload is theirs alone (reader_objects).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from services.catalog.errors import catalog_error

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _signature(key: bytes, repo_id: str, oid: str, size: int, expires: int, reader: str | None) -> str:
    message = f"{repo_id}\n{oid}\n{size}\n{expires}" + (f"\n{reader}" if reader is not None else "")
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class UploadGrant:
    """What a valid upload URL allows: `size` bytes, for the repo's writers (reader None) or for one reader."""

    size: int
    reader: str | None


def upload_url(
    base_url: str, key: bytes, repo_id: str, oid: str, size: int, ttl: int, reader: str | None = None
) -> str:
    expires = int(time.time()) + ttl
    params: dict[str, str | int] = {"size": size, "expires": expires}
    if reader is not None:
        params["reader"] = reader
    params["sig"] = _signature(key, repo_id, oid, size, expires, reader)
    return f"{base_url.rstrip('/')}/api/lfs-upload/{repo_id}/{oid}?{urlencode(params)}"


def check_upload_url(key: bytes, repo_id: str, oid: str, query: Mapping[str, str]) -> UploadGrant:
    """What the URL allows, or 403 InvalidUploadUrl when it was not issued by us or expired."""
    try:
        size, expires, sig = int(query["size"]), int(query["expires"]), query["sig"]
    except (KeyError, ValueError) as exc:
        raise catalog_error(403, "InvalidUploadUrl", "this upload URL is incomplete: ask the batch API again") from exc
    reader = query.get("reader")
    # As bytes: compare_digest refuses str with non-ASCII characters, and a forged URL may carry any.
    expected = _signature(key, repo_id, oid, size, expires, reader).encode()
    if not SHA256.match(oid) or not hmac.compare_digest(sig.encode(), expected):
        raise catalog_error(403, "InvalidUploadUrl", "this upload URL was not issued by this hub or was altered")
    if expires < time.time():
        raise catalog_error(403, "InvalidUploadUrl", "this upload URL has expired: ask the batch API for a new one")
    return UploadGrant(size, reader)


def batch_objects(request_body: object) -> list[tuple[str, int]]:
    """The (oid, size) pairs of an upload batch request, or a 400 saying what is malformed."""
    if not isinstance(request_body, dict) or request_body.get("operation") != "upload":
        raise catalog_error(400, "InvalidInput", 'only {"operation": "upload"} batches are served here')
    objects = request_body.get("objects")
    if not isinstance(objects, list):
        raise catalog_error(400, "InvalidInput", "objects must be a list")
    pairs = []
    for obj in objects:
        oid = obj.get("oid") if isinstance(obj, dict) else None
        size = obj.get("size") if isinstance(obj, dict) else None
        if not (isinstance(oid, str) and SHA256.match(oid)):
            raise catalog_error(400, "InvalidInput", f"object oid {oid!r} is not a sha256 (64 lowercase hex)")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise catalog_error(400, "InvalidInput", f"object {oid} needs a non-negative integer size")
        pairs.append((oid, size))
    return pairs


def batch_ref(request_body: object) -> str | None:
    """The revision a batch is for (`ref.name`), or None when the client names none (it does not for a new PR)."""
    ref = request_body.get("ref") if isinstance(request_body, dict) else None
    if ref is None:
        return None
    name = ref.get("name") if isinstance(ref, dict) else None
    if not isinstance(name, str) or not name:
        raise catalog_error(400, "InvalidInput", 'ref must be {"name": "<revision>"}')
    return name
