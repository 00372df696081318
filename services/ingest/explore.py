"""Reading and grepping an indexed source, as Nia's read and grep answer for Hugging Face datasets.

A "file" is a split and a "line" is a row: `line_start=1` is row 0 of the split. Grep runs a
regular expression over every indexed chunk (Nia's `exhaustive` mode), bounded by the match limits.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from services.ingest.chunk_store import ChunkStore

GREP_SECONDS = 10.0  # an exhaustive grep stops here and says it was truncated


@dataclass(frozen=True)
class ReadResult:
    content: str
    rows: list[int]
    chunks: int
    truncated: bool


def read_rows(store: ChunkStore, index: str, split: str, first: int, last: int, max_length: int) -> ReadResult:
    hits = store.rows(index, split, first, last, limit=10_000)
    parts: list[str] = []
    length = 0
    truncated = False
    rows: list[int] = []
    for hit in hits:
        if hit.chunk_index > 0 and hit.row_index in rows:
            piece = hit.text  # a later window of a long row
        else:
            piece = f"[{split} row {hit.row_index}]\n{hit.text}"
            rows.append(hit.row_index)
        if length + len(piece) > max_length:
            parts.append(piece[: max(0, max_length - length)])
            truncated = True
            break
        parts.append(piece)
        length += len(piece) + 2
    return ReadResult("\n\n".join(parts), rows, len(hits), truncated)


@dataclass(frozen=True)
class GrepOptions:
    pattern: str
    split: str | None
    case_sensitive: bool
    whole_word: bool
    fixed_string: bool
    before: int
    after: int
    max_matches_per_split: int
    max_total_matches: int


def compile_pattern(options: GrepOptions) -> re.Pattern[str]:
    pattern = re.escape(options.pattern) if options.fixed_string else options.pattern
    if options.whole_word:
        pattern = rf"\b(?:{pattern})\b"
    return re.compile(pattern, 0 if options.case_sensitive else re.IGNORECASE)


def grep(store: ChunkStore, index: str, options: GrepOptions) -> dict:
    regex = compile_pattern(options)
    matches: list[dict] = []
    counts: dict[str, int] = {}
    splits_seen: set[str] = set()
    truncated = False
    started = time.monotonic()
    for hit in store.scan(index, options.split):
        splits_seen.add(hit.split)
        if time.monotonic() - started > GREP_SECONDS:
            truncated = True
            break
        lines = hit.text.splitlines()
        for number, line in enumerate(lines):
            if not regex.search(line):
                continue
            if counts.get(hit.split, 0) >= options.max_matches_per_split:
                truncated = True
                continue
            counts[hit.split] = counts.get(hit.split, 0) + 1
            start = max(0, number - options.before)
            matches.append(
                {
                    "path": hit.split,
                    "split": hit.split,
                    "row_index": hit.row_index,
                    "chunk_index": hit.chunk_index,
                    "line": line,
                    "line_number": number + 1,
                    "context": lines[start : number + options.after + 1],
                    "context_start_line": start + 1,
                }
            )
            if len(matches) >= options.max_total_matches:
                truncated = True
                break
        if len(matches) >= options.max_total_matches:
            break
    return {
        "matches": matches,
        "files": sorted(counts),
        "counts": counts,
        "total_matches": len(matches),
        "files_searched": len(splits_seen),
        "files_with_matches": len(counts),
        "truncated": truncated,
    }
