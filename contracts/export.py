"""JSON Schema and an AsyncAPI 3.0 document, generated from the contract models.

`write(SCHEMA_DIR)` (what `hubstream contracts export` runs) writes:

- `asyncapi.json`: every topic and its dead-letter topic, who sends and who
  receives what on it, and every message with its envelope, key and headers;
- `events/<event type>.json`: one standalone JSON Schema per event payload
  (the envelope's `data`), for teams that only want to validate payloads;
- `cloudevent.json`: the envelope;
- `openapi/<service>.json`: each service's HTTP API, the OpenAPI 3.1 document
  it serves at `/openapi.json` (generated from its routes, see
  `services.runtime.openapi`).

The export is committed and a test fails when it differs from the models
(`stale`), so every change to a contract arrives as a reviewable diff of these
files, and outside teams can read the contracts without running Python.

The schemas are pydantic's, so they describe what producers send (strict:
unknown fields refused); consumers are more tolerant (see `contracts.base`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts import registry
from contracts.asyncapi import GENERATED_NOTE, asyncapi_document, envelope_schema, payload_schemas

__all__ = ["SCHEMA_DIR", "asyncapi_document", "payload_schemas", "stale", "write"]

SCHEMA_DIR = Path(__file__).parent / "schema"
"""Where the committed export lives."""

ASYNCAPI_FILE = "asyncapi.json"
ENVELOPE_FILE = "cloudevent.json"
EVENTS_DIR = "events"
OPENAPI_DIR = "openapi"

# pydantic generates JSON Schema 2020-12; the standalone files say so, so validators pick the right dialect.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write the export into `directory` and remove event schemas of types that are gone.

    Returns every file of the export. Files already current are left alone, so
    their modification times keep meaning something.
    """
    expected = _render()
    for relative in _extra(directory, expected):
        (directory / relative).unlink()
    written: list[Path] = []
    for relative, content in expected.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != content:
            path.write_bytes(content)
        written.append(path)
    return written


def stale(directory: Path = SCHEMA_DIR) -> list[str]:
    """What in `directory` differs from what `write` would produce; empty when the export is current."""
    expected = _render()
    problems: list[str] = []
    for relative, content in expected.items():
        path = directory / relative
        if not path.is_file():
            problems.append(f"{relative}: missing")
        elif path.read_bytes() != content:
            problems.append(f"{relative}: differs from the contracts")
    problems.extend(f"{relative}: no such event type or service any more" for relative in _extra(directory, expected))
    return sorted(problems)


# --- rendering ----------------------------------------------------------------------------------------------


def _render() -> dict[str, bytes]:
    """Every file of the export, by path relative to the export directory (POSIX separators)."""
    files = {ASYNCAPI_FILE: _dump(asyncapi_document())}
    files[ENVELOPE_FILE] = _dump(_standalone(envelope_schema(), "The CloudEvents envelope of every hubstream event."))
    topic_of = {cls.event_type: cls.topic.name for cls in registry.EVENT_CLASSES}
    for event_type, schema in payload_schemas().items():
        note = f"The `data` of a CloudEvent of type {event_type}, on topic {topic_of[event_type]}."
        files[f"{EVENTS_DIR}/{event_type}.json"] = _dump(_standalone(schema, note))
    for service, document in _openapi_documents().items():
        files[f"{OPENAPI_DIR}/{service}.json"] = _dump(document)
    return files


def _openapi_documents() -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, by service name.

    Imported here, not at the top: the HTTP APIs are contracts too, but they are
    declared where the services add their routes, and the services import contracts.
    """
    from services.registry import SERVICE_NAMES, openapi_document

    return {name: openapi_document(name) for name in SERVICE_NAMES}


def _standalone(schema: dict[str, Any], note: str) -> dict[str, Any]:
    return {"$schema": JSON_SCHEMA_DIALECT, "$comment": f"{note} {GENERATED_NOTE}", **schema}


def _dump(document: dict[str, Any]) -> bytes:
    # Sorted keys and a fixed layout: the same contracts give the same bytes, so a diff is a real change.
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _extra(directory: Path, expected: dict[str, bytes]) -> list[str]:
    """Generated files that `write` would not produce (their event type or service is gone or renamed)."""
    found = (
        f"{folder}/{path.name}"
        for folder in (EVENTS_DIR, OPENAPI_DIR)
        if (directory / folder).is_dir()
        for path in (directory / folder).glob("*.json")
    )
    return sorted(relative for relative in found if relative not in expected)


if __name__ == "__main__":  # python -m contracts.export, without the hubstream command
    for written_path in write(SCHEMA_DIR):
        print(written_path)
