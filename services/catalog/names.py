"""Rules for account and repo names, as the Hub applies them."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"
"""The shape of a name (the OpenAPI document states it too); `name_problem` adds the Hub's other rules."""
_NAME = re.compile(NAME_PATTERN)


def name_problem(name: str, what: str) -> str | None:
    """Why `name` is not a valid `what` name, or None if it is."""
    if not _NAME.match(name):
        return (
            f"{what} name {name!r} is invalid: use 1 to 96 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    if "--" in name or ".." in name:
        return f"{what} name {name!r} is invalid: '--' and '..' are not allowed"
    if name.endswith((".git", ".ipynb")):
        return f"{what} name {name!r} is invalid: it cannot end with .git or .ipynb"
    return None
