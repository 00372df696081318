"""An upstream Hub as a mirror reads it: its public Hub API (huggingface.co, or another hubstream catalog).

Every call is retried with exponential backoff on connection errors, timeouts, 429 (honouring `Retry-After`)
and 5xx; an answer that is not the shape the Hub gives is an `UpstreamError` naming what was wrong, so one
bad repo fails alone. When the upstream cannot be reached at all, `UpstreamUnreachable` ends the sync.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

log = logging.getLogger(__name__)

SHA1 = re.compile(r"^[0-9a-f]{40}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
LIST_PAGE = 1000
MAX_COMMITS_PER_BRANCH = 10_000
Params = dict[str, str] | list[tuple[str, str]]
PLURAL = {"model": "models", "dataset": "datasets", "space": "spaces"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


class UpstreamError(Exception):
    """The upstream answered, but not with what a Hub answers (or with an error for this repo)."""


class UpstreamUnreachable(UpstreamError):
    """The upstream did not answer at all, after the retries."""


class UpstreamGone(UpstreamError):
    """The upstream says the repo does not exist (404): it was deleted or made private."""


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass(frozen=True)
class Listed:
    """A repo as a listing shows it: enough to tell whether it changed."""

    repo_type: str
    repo_id: str
    sha: str | None
    last_modified: str | None


@dataclass(frozen=True)
class UpstreamFile:
    path: str
    size: int
    git_oid: str
    sha256: str | None  # LFS files only: the content's sha256; regular files are known by their git blob id


@dataclass(frozen=True)
class UpstreamCommit:
    sha: str
    parent: str | None
    title: str
    message: str
    author: str
    date: datetime | None


@dataclass
class UpstreamRepo:
    repo_type: str
    repo_id: str
    upstream_id: str
    sha: str
    last_modified: str
    created_at: datetime | None
    modified_at: datetime | None
    private: bool
    gated: str
    likes: int
    downloads: int
    tags: list[str]
    card_data: dict[str, Any] | None
    sdk: str | None
    files: list[UpstreamFile]
    refs: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, name, target)
    trees: dict[str, list[UpstreamFile]] = field(default_factory=dict)  # commit -> files, for each ref target
    commits: dict[str, UpstreamCommit] = field(default_factory=dict)


class Upstream:
    def __init__(self, session: aiohttp.ClientSession, url: str, token: str | None, retry: Retry = Retry()) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.retry = retry

    async def get(self, path: str, params: Params | None = None) -> tuple[Any, str | None]:
        """The JSON answer to GET `path` and its `Link: rel="next"` URL, if any."""
        url = path if path.startswith("http") else self.url + path
        timeout = aiohttp.ClientTimeout(sock_connect=self.retry.connect_timeout, sock_read=self.retry.read_timeout)
        last = ""
        for attempt in range(self.retry.attempts):
            wait = min(self.retry.cap, self.retry.base * 2**attempt)
            try:
                async with self.session.get(url, params=params, headers=self.headers, timeout=timeout) as response:
                    if response.status == 404:
                        raise UpstreamGone(f"{self.url} has no {path.split('?')[0]} (404)")
                    if response.status in RETRY_STATUSES:
                        last = f"{self.url} answered {response.status} to {path}"
                        wait = max(wait, _retry_after(response.headers.get("Retry-After")))
                    elif response.status >= 400:
                        raise UpstreamError(f"{self.url} answered {response.status} to {path}")
                    else:
                        body = await response.read()
                        try:
                            data = orjson.loads(body)
                        except orjson.JSONDecodeError as exc:
                            raise UpstreamError(f"{self.url} sent malformed JSON for {path}: {exc}") from exc
                        return data, _next_link(response)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                last = f"{self.url} did not answer {path}: {exc or type(exc).__name__}"
                if isinstance(exc, aiohttp.ClientPayloadError):
                    last = f"{self.url} cut its answer to {path} short: {exc}"
            if attempt + 1 < self.retry.attempts:
                log.info("%s; retrying in %.1f s", last, wait)
                await asyncio.sleep(wait)
        if "did not answer" in last:
            raise UpstreamUnreachable(f"the upstream {self.url} is unreachable: {last}")
        raise UpstreamError(f"{last} ({self.retry.attempts} attempts)")

    async def listing(self, repo_type: str, params: dict[str, str]) -> AsyncIterator[Listed]:
        """Every repo of a listing, page after page (sha and lastModified asked for, to compare)."""
        query: Params | None = [
            *params.items(),
            ("limit", str(LIST_PAGE)),
            ("expand", "sha"),
            ("expand", "lastModified"),
        ]
        path: str = f"/api/{PLURAL[repo_type]}"
        next_url: str | None = path
        while next_url is not None:
            items, link = await self.get(next_url, query)
            if not isinstance(items, list):
                raise UpstreamError(f"{self.url}{path} did not answer a list")
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str) or "/" not in item["id"]:
                    raise UpstreamError(f"{self.url}{path} listed a repo without an owner/name id: {item!r:.200}")
                sha, modified = item.get("sha"), item.get("lastModified")
                yield Listed(
                    repo_type,
                    item["id"],
                    sha if isinstance(sha, str) else None,
                    modified if isinstance(modified, str) else None,
                )
            next_url, query = link, None  # the next link carries the query

    async def info(self, repo_type: str, repo_id: str, revision: str | None = None) -> dict[str, Any]:
        path = f"/api/{PLURAL[repo_type]}/{repo_id}"
        if revision is not None:
            path += f"/revision/{quote(revision, safe='')}"
        data, _ = await self.get(path, {"blobs": "true"})
        if not isinstance(data, dict):
            raise UpstreamError(f"{self.url}{path} did not answer an object")
        return data

    async def repo(self, repo_type: str, repo_id: str, info: dict[str, Any]) -> UpstreamRepo:
        """The whole repo: info, its files at each ref, refs and the commits of its branches."""
        base = f"/api/{PLURAL[repo_type]}/{repo_id}"
        repo = parse_info(repo_type, repo_id, info, self.url)
        refs, _ = await self.get(base + "/refs", {"include_prs": "true"})
        repo.refs = parse_refs(refs, self.url + base)
        repo.trees[repo.sha] = repo.files
        for kind, name, target in repo.refs:
            if target not in repo.trees:
                repo.trees[target] = await self.tree(repo_type, repo_id, target)
            if kind == "branch":
                await self._commits(base, name, repo.commits)
        for target in repo.trees:  # tags and PRs off every branch: their head commit only
            repo.commits.setdefault(target, UpstreamCommit(target, None, "", "", repo_id.split("/")[0], None))
        return repo

    async def tree(self, repo_type: str, repo_id: str, commit: str) -> list[UpstreamFile]:
        """The files at `commit` (sizes, git blob ids, LFS hashes): how a sync reads the tree at each ref, and how a
        mirror reads an older commit's on its first read there (mirror_trees.py)."""
        info = await self.info(repo_type, repo_id, commit)
        where = f"{self.url}/api/{PLURAL[repo_type]}/{repo_id}/revision/{commit}"
        if info.get("sha") != commit:
            raise UpstreamError(f"{where} answered the files of another commit ({info.get('sha')!r:.60})")
        return parse_siblings(info, where)

    async def _commits(self, base: str, branch: str, into: dict[str, UpstreamCommit]) -> None:
        path: str | None = f"{base}/commits/{quote(branch, safe='')}"
        chain: list[dict[str, Any]] = []
        while path is not None and len(chain) < MAX_COMMITS_PER_BRANCH:
            page, path = await self.get(path)
            if not isinstance(page, list):
                raise UpstreamError(f"{self.url}{base}/commits/{branch} did not answer a list")
            chain += page
        for i, item in enumerate(chain):
            commit = parse_commit(item, chain[i + 1] if i + 1 < len(chain) else None, self.url + base)
            into.setdefault(commit.sha, commit)


def _retry_after(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return 0.0


def _next_link(response: aiohttp.ClientResponse) -> str | None:
    link = response.links.get("next")
    return str(link["url"]) if link and link.get("url") else None


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UpstreamError(f"{where}: `{key}` is missing or not a {getattr(kind, '__name__', kind)} ({value!r:.80})")
    return value


def _date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_siblings(info: dict[str, Any], where: str) -> list[UpstreamFile]:
    siblings = _need(info, "siblings", list, where)
    files = []
    for s in siblings:
        if not isinstance(s, dict):
            raise UpstreamError(f"{where}: a sibling is not an object")
        path = _need(s, "rfilename", str, where)
        size = _need(s, "size", int, f"{where} {path}")
        oid = _need(s, "blobId", str, f"{where} {path}")
        if not SHA1.match(oid):
            raise UpstreamError(f"{where} {path}: blobId {oid!r} is not a git blob id")
        sha256 = None
        if isinstance(s.get("lfs"), dict):
            sha256 = _need(s["lfs"], "sha256", str, f"{where} {path}")
            if not SHA256.match(sha256):
                raise UpstreamError(f"{where} {path}: the LFS sha256 {sha256!r} is not 64 hex digits")
        files.append(UpstreamFile(path, size, oid, sha256))
    return files


def parse_info(repo_type: str, repo_id: str, info: dict[str, Any], upstream: str) -> UpstreamRepo:
    where = f"{upstream}/api/{PLURAL[repo_type]}/{repo_id}"
    sha = _need(info, "sha", str, where)
    if not SHA1.match(sha):
        raise UpstreamError(f"{where}: sha {sha!r} is not a commit id")
    upstream_id = _need(info, "_id", str, where)
    if not re.fullmatch(r"[0-9a-f]{24}", upstream_id):
        raise UpstreamError(f"{where}: _id {upstream_id!r} is not 24 hex digits")
    gated = info.get("gated", False)
    card = info.get("cardData")
    tags = info.get("tags") or []
    return UpstreamRepo(
        repo_type=repo_type,
        repo_id=repo_id,
        upstream_id=upstream_id,
        sha=sha,
        last_modified=str(info.get("lastModified") or ""),
        created_at=_date(info.get("createdAt")),
        modified_at=_date(info.get("lastModified")),
        private=bool(info.get("private", False)),
        gated=gated if gated in ("auto", "manual") else "false",
        likes=info["likes"] if isinstance(info.get("likes"), int) else 0,
        downloads=info["downloads"] if isinstance(info.get("downloads"), int) else 0,
        tags=[t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        card_data=card if isinstance(card, dict) else None,
        sdk=info["sdk"] if isinstance(info.get("sdk"), str) else None,
        files=parse_siblings(info, where),
    )


REF_GROUPS = {"branches": "branch", "tags": "tag", "converts": "convert", "pullRequests": "pr"}


def parse_refs(data: object, where: str) -> list[tuple[str, str, str]]:
    if not isinstance(data, dict):
        raise UpstreamError(f"{where}/refs did not answer an object")
    refs = []
    for group, kind in REF_GROUPS.items():
        for ref in data.get(group) or []:
            if not isinstance(ref, dict):
                raise UpstreamError(f"{where}/refs: an entry of {group} is not an object")
            name = _need(ref, "name", str, f"{where}/refs")
            target = _need(ref, "targetCommit", str, f"{where}/refs {name}")
            if not SHA1.match(target):
                raise UpstreamError(f"{where}/refs {name}: {target!r} is not a commit id")
            refs.append((kind, name, target))
    return refs


def parse_commit(item: object, older: object, where: str) -> UpstreamCommit:
    if not isinstance(item, dict):
        raise UpstreamError(f"{where}/commits: an entry is not an object")
    sha = _need(item, "id", str, f"{where}/commits")
    if not SHA1.match(sha):
        raise UpstreamError(f"{where}/commits: {sha!r} is not a commit id")
    parent = older.get("id") if isinstance(older, dict) else None
    authors = item.get("authors") or []
    author = authors[0].get("user") if authors and isinstance(authors[0], dict) else None
    return UpstreamCommit(
        sha=sha,
        parent=parent if isinstance(parent, str) and SHA1.match(parent) else None,
        title=str(item.get("title") or ""),
        message=str(item.get("message") or ""),
        author=author if isinstance(author, str) else "",
        date=_date(item.get("date")),
    )


def file_url(upstream: str, repo_type: str, repo_id: str, revision: str, path: str) -> str:
    return f"{upstream.rstrip('/')}/{URL_PREFIX[repo_type]}{repo_id}/resolve/{revision}/{quote(path)}"
