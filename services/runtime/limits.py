"""How large a request body each route accepts.

Every route takes at most `DEFAULT_MAX_BODY` (1 MiB: plenty for the JSON
these APIs take, and a bound on what a client can make a process buffer). A
view that needs more says so where it is defined:

    @max_body(50 * GiB, streamed=True)
    async def upload(request: web.Request) -> web.Response:
        async for chunk in body_chunks(request):
            ...

A body over the limit is answered 413 `PayloadTooLarge` in the API's shape,
naming the limit: at once when `Content-Length` says so, otherwise as soon as
reading passes it (chunked uploads). A buffered route reads with
`request.read()`/`read_json` as usual; a streamed one reads `body_chunks`, so
gigabytes never sit in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from services.runtime.errors import ApiError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

DEFAULT_MAX_BODY = 1 * MiB

_ATTRIBUTE = "__hubstream_body_limit__"

H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    streamed: bool = False
    """True when the view reads the body in chunks (`body_chunks`) instead of buffering it."""

    def describe(self) -> str:
        return _human(self.max_bytes)


def max_body(max_bytes: int, *, streamed: bool = False) -> Callable[[H], H]:
    """Let the decorated view take bodies up to `max_bytes` instead of the default."""

    def mark(view: H) -> H:
        setattr(view, _ATTRIBUTE, BodyLimit(max_bytes, streamed))
        return view

    return mark


def body_limit(handler: Any, default: int = DEFAULT_MAX_BODY) -> BodyLimit:
    """The limit the view `handler` declared, or the default."""
    limit = getattr(handler, _ATTRIBUTE, None)
    return limit if isinstance(limit, BodyLimit) else BodyLimit(default)


def too_large(limit: BodyLimit, size: int | None = None) -> ApiError:
    sent = f" ({_human(size)} were sent)" if size is not None else ""
    return ApiError(
        413,
        "PayloadTooLarge",
        f"the request body is larger than this route accepts: at most {limit.describe()}{sent}",
    )


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The body of a streamed route in the pieces the connection received it in, refused with 413 once it passes
    the route's limit.

    `iter_chunks` hands over one received piece at a time. `iter_any` would join every piece waiting in the
    buffer into one new bytes object, and pieces wait there whenever the view is slower than the socket (a
    large upload: most of the time), so a good part of the body would be copied once more for nothing."""
    limit = body_limit(request.match_info.handler)
    received = 0
    async for chunk, _ in request.content.iter_chunks():
        if not chunk:  # the end of a chunk of a chunked body: nothing to hand over
            continue
        received += len(chunk)
        if received > limit.max_bytes:
            raise too_large(limit)
        yield chunk


def _human(size: int) -> str:
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"
