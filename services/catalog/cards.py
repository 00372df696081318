"""Repo cards: the README's YAML front matter as the Hub's `cardData`, and the tags derived from it.

`card_data(readme_text)` is a pure function; `refresh_card(conn, repo_pk, readme_text)` stores its result on the
repo, and is what a commit that changes README.md on main calls (in the commit's transaction). Listing filters
(`filter=license:mit`, `filter=language:en`, `filter=pytorch`) match these tags.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

import asyncpg
import yaml

from services.catalog import store_listing as store
from services.catalog.blobs import BlobStore

# A README opens with `---`, then YAML, then a line of `---`. Anything else has no metadata.
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^---[ \t]*$", re.DOTALL | re.MULTILINE)
_EMPTY_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n---[ \t]*(\r?\n|\Z)")

MAX_FRONT_MATTER_BYTES = 256 * 1024
# YAML aliases let a few lines describe a huge tree ("billion laughs"): the YAML parser shares the nodes, but the
# JSON we store would not. Past this many values the metadata is refused as a whole, like invalid YAML.
# The front matter opens the README: reading this much of it is enough, whatever the README's size.
README_HEAD_BYTES = MAX_FRONT_MATTER_BYTES + 64 * 1024
MAX_NODES = 20_000
MAX_TAGS = 500
MAX_TAG_LENGTH = 200

# Card fields that become `prefix:value` tags, per repo type. Models list languages bare, as the Hub does.
_PREFIXED: dict[str, dict[str, str]] = {
    "model": {"license": "license:", "datasets": "dataset:", "base_model": "base_model:", "language": ""},
    "dataset": {
        "license": "license:",
        "language": "language:",
        "task_categories": "task_categories:",
        "task_ids": "task_ids:",
        "size_categories": "size_categories:",
        "multilinguality": "multilinguality:",
        "language_creators": "language_creators:",
        "annotations_creators": "annotations_creators:",
        "source_datasets": "source_datasets:",
    },
    "space": {"license": "license:"},
}
# Card fields whose value is itself a tag.
_BARE: dict[str, tuple[str, ...]] = {
    "model": ("library_name", "pipeline_tag"),
    "dataset": (),
    "space": ("sdk",),
}


class _TooLarge(ValueError):
    pass


def front_matter(readme_text: str) -> str | None:
    """The YAML between the opening `---` lines, or None when the README has none."""
    if _EMPTY_FRONT_MATTER.match(readme_text):
        return ""
    match = _FRONT_MATTER.match(readme_text)
    return match.group(1) if match else None


def card_data(readme_text: str | None, repo_type: str = "model") -> tuple[dict[str, Any] | None, list[str]]:
    """(cardData, tags) of a README: the front matter as a JSON object, and the tags it implies.

    No README, no front matter, YAML that does not parse, or YAML that is not a mapping: (None, []). The Hub
    reads cards leniently too: a broken card does not break the repo, it just has no metadata.
    """
    if not readme_text:
        return None, []
    text = front_matter(readme_text)
    if text is None or len(text.encode()) > MAX_FRONT_MATTER_BYTES:
        return None, []
    try:
        loaded = yaml.safe_load(text) if text.strip() else {}
        data = _jsonable(loaded, [0])
    except (yaml.YAMLError, _TooLarge, RecursionError):
        return None, []
    if not isinstance(data, dict):
        return None, []
    return data, tags_of(data, repo_type)


def tags_of(card: dict[str, Any], repo_type: str) -> list[str]:
    """The tags of a repo with this card: its own `tags`, then those derived from known fields; no repeats."""
    tags: list[str] = []
    tags += _strings(card.get("tags"))
    for field in _BARE.get(repo_type, ()):
        tags += _strings(card.get(field))
    for field, prefix in _PREFIXED.get(repo_type, {}).items():
        tags += [prefix + value for value in _strings(card.get(field))]
    unique = list(dict.fromkeys(t for t in tags if len(t) <= MAX_TAG_LENGTH))
    return unique[:MAX_TAGS]


def _strings(value: Any) -> list[str]:
    """A card field as a list of non-empty strings: a scalar or a list of scalars; nested values are skipped."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or item is None or isinstance(item, dict | list):
            continue
        text = str(item).strip()
        if text:
            out.append(text)
    return out


def _jsonable(value: Any, count: list[int]) -> Any:
    """A YAML value as JSON: dates as ISO strings, sets as lists, keys as strings; bounded in size."""
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _TooLarge("card metadata too large")
    if isinstance(value, dict):
        return {str(k): _jsonable(v, count) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, count) for v in value]
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if isinstance(value, bytes):
        return None  # !!binary: nothing a card means
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


async def refresh_card(conn: asyncpg.Connection, repo_pk: str, readme_text: str | None) -> list[str]:
    """Store the card of the README now on main (None: it was deleted) on repo `repo_pk`; return its tags."""
    repo_type = await store.repo_type_of(conn, repo_pk)
    data, tags = card_data(readme_text, repo_type or "model")
    await store.set_repo_card(conn, repo_pk, data, tags)
    return tags


async def refresh_card_from_blob(
    conn: asyncpg.Connection, blobs: BlobStore, repo_pk: str, readme: asyncpg.Record | None
) -> list[str]:
    """`refresh_card` with the README main now has (a file entry: `sha256`, `size`; None when deleted)."""
    text = None
    if readme is not None:
        chunks = [c async for c in blobs.read(readme["sha256"], 0, min(readme["size"], README_HEAD_BYTES))]
        text = b"".join(chunks).decode("utf-8", "replace")  # a character cut at the end is past the front matter
    return await refresh_card(conn, repo_pk, text)
