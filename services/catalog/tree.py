"""A commit's file list seen as the Hub's tree: files and the folders they imply."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import asyncpg

from services.catalog.gitfiles import lfs_pointer, tree_oid


@dataclass
class TreeItem:
    path: str
    is_file: bool
    oid: str = ""
    size: int = 0
    sha256: str | None = None  # LFS files only
    last_commits: set[str] = field(default_factory=set)
    members: list[tuple[str, str]] = field(default_factory=list)  # folders: (path, oid) of files below

    def as_json(self) -> dict[str, object]:
        if not self.is_file:
            return {"type": "directory", "oid": tree_oid(self.members), "path": self.path}
        item: dict[str, object] = {"type": "file", "oid": self.oid, "size": self.size, "path": self.path}
        if self.sha256 is not None:
            pointer = len(lfs_pointer(self.sha256, self.size))
            item["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": pointer}
        return item


def file_item(row: asyncpg.Record) -> TreeItem:
    return TreeItem(
        path=row["path"],
        is_file=True,
        oid=row["git_oid"],
        size=row["size"],
        sha256=row["sha256"] if row["lfs"] else None,
        last_commits={row["last_commit"]},
    )


def listing(rows: Iterable[asyncpg.Record], under: str, *, recursive: bool) -> list[TreeItem]:
    """The entries inside folder `under` ("" for the root): direct children, or everything below if recursive."""
    prefix = f"{under}/" if under else ""
    items: dict[str, TreeItem] = {}
    for row in rows:
        rel = row["path"][len(prefix) :]
        parts = rel.split("/")
        # Every folder between `under` and the file (only the first level when not recursive).
        for depth in range(1, len(parts) if recursive else min(2, len(parts))):
            folder = prefix + "/".join(parts[:depth])
            item = items.setdefault(folder, TreeItem(path=folder, is_file=False))
            item.members.append((row["path"], row["git_oid"]))
            item.last_commits.add(row["last_commit"])
        if recursive or len(parts) == 1:
            items[row["path"]] = file_item(row)
    return sorted(items.values(), key=lambda i: i.path)


def folder_item(rows: list[asyncpg.Record], path: str) -> TreeItem:
    """The folder `path` itself, from the files below it."""
    item = TreeItem(path=path, is_file=False)
    for row in rows:
        item.members.append((row["path"], row["git_oid"]))
        item.last_commits.add(row["last_commit"])
    return item
