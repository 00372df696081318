"""Revisions: how a branch, tag, PR ref, convert ref or (short) commit id names a commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from services.catalog import store_files
from services.catalog.errors import catalog_error

FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
SHORT_SHA = re.compile(r"^[0-9a-f]{7,39}$")
REF_PREFIXES = {"refs/heads/": "branch", "refs/tags/": "tag", "refs/pr/": "pr", "refs/convert/": "convert"}
FULL_REF = {kind: prefix for prefix, kind in REF_PREFIXES.items()}
# Git's rule for ref names, the part the Hub enforces: no spaces, control characters, '..', '~^:?*[\', no '//'.
_BAD_REF = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]|\.\.|//|@\{|^/|/$|\.lock$|^\.|/\.|\.$")


@dataclass(frozen=True)
class Revision:
    sha: str
    kind: str | None  # branch, tag, pr, convert; None when the revision was a commit id
    name: str

    @property
    def ref(self) -> str | None:
        return f"{FULL_REF[self.kind]}{self.name}" if self.kind else None


def split_ref(rev: str) -> tuple[str | None, str]:
    """('pr', '1') for 'refs/pr/1'; (None, rev) when `rev` has no refs/ prefix."""
    for prefix, kind in REF_PREFIXES.items():
        if rev.startswith(prefix):
            return kind, rev[len(prefix) :]
    return None, rev


def split_rev_and_path(raw_segments: list[str]) -> tuple[str, str]:
    """The revision and the file path in what follows `/resolve/` or `/tree/`, from the raw (encoded) segments.

    Clients encode the revision as one segment (`refs%2Fpr%2F1`); browsers and the Hub's own links
    also write `refs/pr/1/...` unencoded, so a raw `refs/<kind>/<name>` prefix is read as the revision.
    """
    if not raw_segments or raw_segments[0] == "":
        raise catalog_error(400, "InvalidRef", "the URL names no revision")
    if raw_segments[0] == "refs" and len(raw_segments) >= 3 and f"refs/{raw_segments[1]}/" in REF_PREFIXES:
        rev, rest = "/".join(unquote(s) for s in raw_segments[:3]), raw_segments[3:]
    else:
        rev, rest = unquote(raw_segments[0]), raw_segments[1:]
    return rev, "/".join(unquote(s) for s in rest)


def ref_name_problem(name: str) -> str | None:
    if not name or len(name) > 255 or _BAD_REF.search(name):
        return f"Invalid reference name {name!r}"
    return None


async def resolve(conn: store_files.Conn, repo_id: str, rev: str) -> Revision:
    """The commit `rev` names in this repo, or 404 RevisionNotFound in the Hub's words."""
    kind, name = split_ref(rev)
    kinds = [kind] if kind else ["branch", "tag"]
    for k in kinds:
        target = await store_files.ref_target(conn, repo_id, k, name)
        if target is not None:
            return Revision(target, k, name)
    if kind is None and FULL_SHA.match(rev):
        if await store_files.commit(conn, repo_id, rev) is not None:
            return Revision(rev, None, rev)
    elif kind is None and SHORT_SHA.match(rev):
        found = await store_files.commits_with_prefix(conn, repo_id, rev)
        if len(found) == 1:
            return Revision(found[0], None, found[0])
    raise revision_not_found(rev)


def revision_not_found(rev: str) -> Exception:
    return catalog_error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
