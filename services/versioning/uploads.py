"""CSV uploads: the multipart form, and its rows as datapoints.

Humanloop's SDK 0.8.38 sends `Content-Type: multipart/form-data` without a `boundary=` (it sets the
header itself and so drops the one httpx would add). The body still starts with `--<boundary>`, so
when the header has none we take it from the body's first line, then parse with the standard
library's MIME parser.

Columns: each column becomes an input (`inputs[column]`, a string), except `messages` and `target`,
whose cells are JSON (the shape `export` writes, so an export uploads back unchanged). Empty cells
are left out.
"""

from __future__ import annotations

import csv
import io
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import orjson

from services.versioning.errors import VersioningError

JSON_COLUMNS = ("messages", "target")


def _invalid(message: str) -> VersioningError:
    return VersioningError(422, "InvalidCsv", message, loc=["body", "file"])


def parse_multipart(content_type: str, body: bytes) -> dict[str, EmailMessage]:
    """The form's parts by field name."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise _invalid(f"expected a multipart/form-data upload with a `file` part, got {content_type or 'no type'!r}")
    if "boundary=" not in content_type.lower():
        first = body.split(b"\r\n", 1)[0].split(b"\n", 1)[0].strip()
        if not first.startswith(b"--") or len(first) < 3:
            raise _invalid("the multipart body has no boundary, neither in Content-Type nor on its first line")
        content_type = f'multipart/form-data; boundary="{first[2:].decode("latin-1")}"'
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise _invalid("the multipart body could not be read")
    parts: dict[str, EmailMessage] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts[name] = part  # type: ignore[assignment]
    return parts


def form_fields(form: dict[str, EmailMessage]) -> dict[str, Any]:
    """The form's parts as values: `file` as bytes, every other part as text (for CsvUploadForm)."""
    fields: dict[str, Any] = {}
    for name, part in form.items():
        raw = part.get_payload(decode=True)
        raw = raw if isinstance(raw, bytes) else b""
        fields[name] = raw if name == "file" else raw.decode("utf-8", "replace")
    return fields


def csv_datapoints(raw: bytes) -> list[dict[str, Any]]:
    """The rows of the uploaded CSV file as datapoints (not yet validated)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid(f"the CSV file is not UTF-8: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise _invalid("the CSV file has no header row")
    points = []
    for line, row in enumerate(reader, start=2):
        if None in row:
            raise _invalid(f"line {line} has more cells than the header has columns")
        point: dict[str, Any] = {}
        inputs = {k: v for k, v in row.items() if k not in JSON_COLUMNS and v not in (None, "")}
        if inputs:
            point["inputs"] = inputs
        for column in JSON_COLUMNS:
            if cell := row.get(column):
                try:
                    point[column] = orjson.loads(cell)
                except orjson.JSONDecodeError as exc:
                    raise _invalid(f"line {line}: the {column} cell is not JSON: {exc}") from exc
        points.append(point)
    return points
