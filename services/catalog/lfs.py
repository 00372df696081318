"""The LFS batch API's upload side: signed upload URLs that need no Authorization header.

The Hub client PUTs LFS content without its token, so the URL itself carries
the permission: repo, object, size and expiry, signed with a key every catalog
process reads from the database. A URL cannot be stretched to another object,
size or repo, and stops working when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from urllib.parse import urlencode

from services.catalog.errors import catalog_error

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _signature(key: bytes, repo_id: str, oid: str, size: int, expires: int) -> str:
    return hmac.new(key, f"{repo_id}\n{oid}\n{size}\n{expires}".encode(), hashlib.sha256).hexdigest()


def upload_url(base_url: str, key: bytes, repo_id: str, oid: str, size: int, ttl: int) -> str:
    expires = int(time.time()) + ttl
    query = urlencode({"size": size, "expires": expires, "sig": _signature(key, repo_id, oid, size, expires)})
    return f"{base_url.rstrip('/')}/api/lfs-upload/{repo_id}/{oid}?{query}"


def check_upload_url(key: bytes, repo_id: str, oid: str, query: Mapping[str, str]) -> int:
    """The size the URL allows, or 403 InvalidUploadUrl when it was not issued by us or expired."""
    try:
        size, expires, sig = int(query["size"]), int(query["expires"]), query["sig"]
    except (KeyError, ValueError) as exc:
        raise catalog_error(403, "InvalidUploadUrl", "this upload URL is incomplete: ask the batch API again") from exc
    # As bytes: compare_digest refuses str with non-ASCII characters, and a forged URL may carry any.
    expected = _signature(key, repo_id, oid, size, expires).encode()
    if not SHA256.match(oid) or not hmac.compare_digest(sig.encode(), expected):
        raise catalog_error(403, "InvalidUploadUrl", "this upload URL was not issued by this hub or was altered")
    if expires < time.time():
        raise catalog_error(403, "InvalidUploadUrl", "this upload URL has expired: ask the batch API for a new one")
    return size


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
