"""Versioning's calls to the catalog's Hub API (real HTTP, the wire format huggingface_hub speaks).

Every failure becomes a VersioningError an operator can act on: the catalog's 404 (no such repo or
file) stays a 404; the catalog refusing our token is a 502 CatalogRefused, refusing what the caller
named (a revision, path or tag it calls invalid) a 422 CatalogRefused, both quoting the catalog; no
answer at all (down, timed out, no token configured) is a 502 CatalogUnavailable.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from services.versioning.errors import VersioningError


@dataclass(frozen=True)
class CatalogClient:
    session: aiohttp.ClientSession
    url: str
    # Versioning's own token, read at each call: the one set in HUBSTREAM_VERSIONING_CATALOG_TOKEN, else the
    # service account's that `hubstream up` saves (so a replaced token is used without a restart).
    token: Callable[[], str | None]
    max_download: int

    def _headers(self) -> dict[str, str]:
        token = self.token()
        if not token:
            raise VersioningError(
                502,
                "CatalogUnavailable",
                "versioning has no catalog token: start the stack with `hubstream up` (it saves the "
                "hubstream-versioning service account's token), or set HUBSTREAM_VERSIONING_CATALOG_TOKEN",
            )
        return {"Authorization": f"Bearer {token}"}

    async def check_caller(self, caller_token: str, repo_id: str, *, write: bool) -> None:
        """Raise unless the caller (by their own token) may read, or with `write` also write, the dataset repo.

        Versioning acts on the repo with its service account, which may write every repo; what the caller may
        do is the catalog's to say, by its own rules (owners, organizations, resource groups). Reading is a
        `dataset_info`; writing is the `preupload` every client sends before a commit, with no files: it needs
        the same write access as a commit and changes nothing.
        """
        headers = {"Authorization": f"Bearer {caller_token}"}
        if write:
            method, url, kw = "POST", f"{self._repo(repo_id)}/preupload/main", {"json": {"files": []}}
        else:
            method, url, kw = "GET", self._repo(repo_id), {}
        what = f"checking that you may {'write' if write else 'read'} {repo_id}"
        try:
            async with self.session.request(method, url, headers=headers, **kw) as response:
                status = response.status
                body = await response.content.read(64 * 1024)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VersioningError(
                502, "CatalogUnavailable", f"{what}: the catalog at {self.url} did not answer ({exc!r})"
            ) from exc
        if status == 200:
            return
        if status in (401, 403):
            raise VersioningError(
                403, "Forbidden", f"you may not {'write' if write else 'read'} catalog repo {repo_id}"
            )
        if status == 404:
            raise VersioningError(404, "CatalogNotFound", f"no catalog dataset repo {repo_id} that you may see")
        raise self._refused(status, body, what)

    def _repo(self, repo_id: str) -> str:
        return f"{self.url.rstrip('/')}/api/datasets/{repo_id}"

    async def _call(self, method: str, url: str, what: str, **kw: Any) -> tuple[int, bytes]:
        headers = {**self._headers(), **kw.pop("headers", {})}
        try:
            async with self.session.request(method, url, headers=headers, **kw) as response:
                if response.content_length is not None and response.content_length > self.max_download:
                    raise VersioningError(
                        400, "TooLarge", f"{what}: {response.content_length} bytes, more than {self.max_download}"
                    )
                body = await response.content.read(self.max_download + 1)
                if len(body) > self.max_download:
                    raise VersioningError(400, "TooLarge", f"{what}: more than {self.max_download} bytes")
                return response.status, body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VersioningError(
                502,
                "CatalogUnavailable",
                f"{what}: the catalog at {self.url} did not answer ({exc!r})",
            ) from exc

    @staticmethod
    def _refused(status: int, body: bytes, what: str) -> VersioningError:
        try:
            said = orjson.loads(body).get("error") or body.decode(errors="replace")
        except (orjson.JSONDecodeError, AttributeError):
            said = body.decode(errors="replace")[:500]
        if status == 404:
            return VersioningError(404, "CatalogNotFound", f"{what}: the catalog says {status}: {said}")
        if status >= 500:
            return VersioningError(502, "CatalogUnavailable", f"{what}: the catalog failed with {status}: {said}")
        if status in (401, 403):  # our token: the operator's to fix, not the caller's
            return VersioningError(502, "CatalogRefused", f"{what}: the catalog refused our token ({status}): {said}")
        # What the caller named (a revision, a path, a tag) is one the catalog will not take.
        return VersioningError(422, "CatalogRefused", f"{what}: the catalog refused with {status}: {said}")

    async def _json(self, method: str, url: str, what: str, ok: tuple[int, ...] = (200,), **kw: Any) -> Any:
        status, body = await self._call(method, url, what, **kw)
        if status not in ok:
            raise self._refused(status, body, what)
        return orjson.loads(body) if body else None

    async def tag_target(self, repo_id: str, tag: str) -> str | None:
        """The commit a tag of the repo points at, or None if there is no such tag."""
        refs = await self._json("GET", f"{self._repo(repo_id)}/refs", f"listing the refs of {repo_id}")
        for ref in refs.get("tags", []):
            if ref.get("name") == tag:
                return ref.get("targetCommit")
        return None

    async def commit_title(self, repo_id: str, revision: str) -> tuple[str, str] | None:
        """(sha, title) of the newest commit at `revision`, or None if the repo has no commit there."""
        url = f"{self._repo(repo_id)}/commits/{quote(revision, safe='')}"
        status, body = await self._call("GET", url, f"reading the history of {repo_id}")
        if status == 404 and revision != "main":
            return None
        if status != 200:
            raise self._refused(status, body, f"reading the history of {repo_id}")
        commits = orjson.loads(body)
        return (commits[0]["id"], commits[0]["title"]) if commits else None

    async def commit_file(self, repo_id: str, path: str, content: bytes, title: str, description: str) -> str:
        """One commit on main that writes `path` (inline, base64, as huggingface_hub sends small files); its sha."""
        lines = [
            {"key": "header", "value": {"summary": title, "description": description}},
            {
                "key": "file",
                "value": {"path": path, "encoding": "base64", "content": base64.b64encode(content).decode()},
            },
        ]
        answer = await self._json(
            "POST",
            f"{self._repo(repo_id)}/commit/main",
            f"committing {path} to {repo_id}",
            data=b"\n".join(orjson.dumps(line) for line in lines),
            headers={"Content-Type": "application/x-ndjson"},
        )
        return answer["commitOid"]

    async def create_tag(self, repo_id: str, tag: str, commit: str, message: str) -> bool:
        """Tag `commit`; False if the tag exists already (someone, maybe an earlier try of ours, made it)."""
        status, body = await self._call(
            "POST",
            f"{self._repo(repo_id)}/tag/{commit}",
            f"tagging {repo_id} at {commit}",
            json={"tag": tag, "message": message},
        )
        if status == 409:
            return False
        if status != 200:
            raise self._refused(status, body, f"tagging {repo_id} at {commit} as {tag!r}")
        return True

    async def download(self, repo_id: str, revision: str, path: str) -> bytes:
        url = f"{self.url.rstrip('/')}/datasets/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"
        status, body = await self._call("GET", url, f"reading {path} of {repo_id} at {revision}")
        if status != 200:
            raise self._refused(status, body, f"reading {path} of {repo_id} at {revision}")
        return body
