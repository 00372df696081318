"""Pydantic JSON Schemas gathered into a document's `components.schemas` (AsyncAPI and OpenAPI alike).

pydantic puts the models a schema refers to under its own `$defs`; a document
that holds many schemas wants them once, under `#/components/schemas/`, with
every `$ref` pointing there. Two different schemas with one name are refused:
a silent overwrite would lose a contract.
"""

from __future__ import annotations

from typing import Any

COMPONENTS_PREFIX = "#/components/schemas/"


def put(mapping: dict[str, Any], key: str, value: Any, *, what: str) -> None:
    """Add `key`, refusing a second, different value for it: a silent overwrite would lose a contract."""
    if key in mapping and mapping[key] != value:
        raise ValueError(f"two different {what}s are both called {key!r}; rename one of them")
    mapping[key] = value


def hoist(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """Put a pydantic schema and its `$defs` into `components.schemas`, pointing refs there."""
    body = dict(schema)
    definitions: dict[str, Any] = body.pop("$defs", {})
    for def_name, definition in definitions.items():
        put(schemas, def_name, _rewrite_refs(definition), what="schema")
    put(schemas, name, _rewrite_refs(body), what="schema")


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                if not value.startswith("#/$defs/"):
                    raise ValueError(f"unexpected $ref {value!r}: only pydantic's #/$defs/ refs can be hoisted")
                out[key] = COMPONENTS_PREFIX + value.removeprefix("#/$defs/")
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node
