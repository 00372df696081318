"""One logging setup for every process: plain lines an operator can grep, with no credentials in them.

A record is one line. Its message may quote what a client sent (a request path, an event's field), and a
newline there would let a client write a line of its own into the log ("...\n<date> ERROR ..."), a NUL
would make grep call the file binary: control characters in a message are written as escapes (`\n`,
`\x00`). A traceback stays on the lines after its record's, as Python prints it.

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


# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators (some viewers break lines
# there); tab stays, it is harmless in a line.
_ESCAPES = {
    c: ("\\n" if c == 0x0A else "\\r" if c == 0x0D else f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")
    for c in [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
    if c != 0x09
}


def one_line(text: str) -> str:
    """`text` with its control characters escaped, so it cannot end its line or forge another."""
    return text.translate(_ESCAPES)


def redact(text: str) -> str:
    """`text` with credentials replaced by `***`."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter whose output, exception text included, never carries a credential, and whose record is one
    line (its message's control characters escaped)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)

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
