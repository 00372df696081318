"""One logging setup for every process: plain lines an operator can grep, with no credentials in them.

Tokens must never reach a log file. The views and middlewares never log one,
and the access log masks credential-looking query parameters; as a last line
of defence every line (traceback included) passes `redact`, because some
messages are not ours: aiohttp logs a malformed request with its raw header
line ("Authorization: Bearer hf_..."), and an exception can quote its input.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO

MASK = "***"

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A header of ours given a value: "X-API-KEY: <token>", "'authorization': 'Bearer <token>'", "Cookie=<...>".
    (
        re.compile(
            r"(?i)\b(x-api-key|authorization|cookie)(['\"]?\s*[:=]\s*['\"]?)((?:bearer|basic|token)\s+)?[^\s'\",\\]+"
        ),
        rf"\1\2\3{MASK}",
    ),
    # "Bearer <token>" wherever else it appears: a repr of raw bytes, a message.
    (re.compile(r"(?i)\b(bearer\s+)[^\s'\",\\]+"), rf"\1{MASK}"),
    # A credential in a query string: ?token=..., &access_token=..., ?api_key=...
    (
        re.compile(r"(?i)([?&][^=&\s]*(?:token|key|secret|password|auth|signature|credential)[^=&\s]*=)[^&\s'\"\\#]+"),
        rf"\1{MASK}",
    ),
    # Anything shaped like one of our tokens (see auth.new_token), however it got into the text.
    (re.compile(r"\bhf_[A-Za-z0-9_-]{16,}"), f"hf_{MASK}"),
)


def redact(text: str) -> str:
    """`text` with credentials replaced by `***`."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter whose output, exception text included, never carries a credential."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_handler(stream: IO[str], *, process: str = "hubstream") -> logging.Handler:
    """The handler every process logs through (also used by tests that read the logs)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(f"%(asctime)s %(levelname)-7s {process} %(name)s: %(message)s"))
    return handler


def init_logging(level: str = "INFO", *, process: str = "hubstream") -> None:
    # force=True: heavy imports (aiokafka, asyncio debug) may attach a root handler before this runs.
    logging.basicConfig(level=level.upper(), handlers=[log_handler(sys.stderr, process=process)], force=True)
    # aiokafka logs every coordinator hiccup at ERROR while a group forms; those are retried.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.CRITICAL)
