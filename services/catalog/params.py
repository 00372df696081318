"""Query parameters as the Hub's clients send them, read strictly so that the OpenAPI document and the views agree."""

from __future__ import annotations

from typing import Annotated

from multidict import MultiMapping
from pydantic import WithJsonSchema

from services.catalog.errors import catalog_error

# The spellings of a boolean: httpx-based clients send true/false, requests-based ones True/False.
BOOLEANS = {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}
QueryBool = Annotated[bool, WithJsonSchema({"type": "string", "enum": list(BOOLEANS)})]
"""A boolean query parameter, documented with the spellings `parse_bool` takes."""


def parse_bool(params: MultiMapping[str], key: str) -> bool | None:
    """One of BOOLEANS; absent: None; anything else a 400 InvalidParameter."""
    value = params.get(key)
    if value is None:
        return None
    if value in BOOLEANS:
        return BOOLEANS[value]
    raise catalog_error(400, "InvalidParameter", f"{key}={value!r} is not a boolean: use true or false")


def flag(params: MultiMapping[str], key: str) -> bool:
    """A boolean parameter that is false when absent."""
    return bool(parse_bool(params, key))
