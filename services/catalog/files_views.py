"""Thin views for file transfer: preupload, commit, the LFS batch API and its upload target, resolve."""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
from collections.abc import AsyncIterator
from typing import Literal

import asyncpg
import pathspec
import yaml
from aiohttp import web
from pydantic import BaseModel, Field

from services.catalog import cards, commits, lfs, mirror_files, store_files
from services.catalog.access import batch_committer, committer, raw_tail, readable_repo, repo_url
from services.catalog.blobs import BlobMismatch
from services.catalog.commit_payload import read_payload
from services.catalog.errors import catalog_error
from services.catalog.gitfiles import clean_path, lfs_patterns, looks_binary, matches_lfs
from services.catalog.keys import BLOBS, FILE_SETTINGS, UPLOAD_SIGNING_KEY
from services.catalog.mirror_trees import resolve_with_tree
from services.catalog.params import QueryBool
from services.catalog.repo_admin import require_file_access
from services.catalog.responses import absent
from services.catalog.revisions import resolve, split_rev_and_path
from services.runtime.auth import require_principal
from services.runtime.http import json_response, read_json
from services.runtime.keys import CONFIG, OUTBOX, POOL, PRINCIPAL
from services.runtime.limits import GiB, body_chunks, max_body

GIT_LFS_JSON = "application/vnd.git-lfs+json"
MAX_PREUPLOAD_FILES = 1000
MAX_COMMIT_BYTES = 64 * GiB
MAX_LFS_OBJECT_BYTES = 50 * GiB  # the Hub's own limit per file
MAX_RULES_FILE_BYTES = 1024 * 1024
README = "README.md"
SHA256_PATTERN = "^[0-9a-f]{64}$"

# The bodies and queries below are what the views check by hand (so that a bad one gets the Hub's own error
# code and words); the OpenAPI document states them, and the schemathesis run holds the two together.


class PreuploadItem(BaseModel):
    path: str = Field(description="A relative path in the repo.")
    size: int = Field(ge=0)
    sample: str = Field(default="", description="The file's first 512 bytes, base64.")


class PreuploadBody(BaseModel):
    files: list[PreuploadItem] = Field(max_length=MAX_PREUPLOAD_FILES)
    gitIgnore: str | None = Field(default=None, description="The .gitignore the commit brings, if any.")


class CommitHeader(BaseModel):
    summary: str = Field(min_length=1, description="The commit's title.")
    description: str = ""
    parentCommit: str | None = Field(
        default=None, pattern="^[0-9a-f]{40}$", description="The head the client expects: else 412 CommitConflict."
    )


class HeaderLine(BaseModel):
    key: Literal["header"]
    value: CommitHeader


class InlineFile(BaseModel):
    path: str = Field(description="A relative path in the repo.")
    content: str = Field(description="The file's bytes, base64 (one line may hold at most max_commit_line_bytes).")
    encoding: Literal["base64"] = "base64"


class FileLine(BaseModel):
    key: Literal["file"]
    value: InlineFile


class LfsFile(BaseModel):
    path: str
    algo: Literal["sha256"] = "sha256"
    oid: str = Field(pattern=SHA256_PATTERN, description="An object uploaded through the LFS batch API first.")
    size: int | None = Field(default=None, ge=0, description="Omitted by copies of LFS files.")


class LfsFileLine(BaseModel):
    key: Literal["lfsFile"]
    value: LfsFile


class DeletedPath(BaseModel):
    path: str


class DeletedLine(BaseModel):
    key: Literal["deletedFile", "deletedFolder"]
    value: DeletedPath


CommitLines = list[HeaderLine | FileLine | LfsFileLine | DeletedLine]
"""The NDJSON commit body, one JSON object per line: the header first, then the operations in order."""


class CommitParams(BaseModel):
    create_pr: QueryBool = absent("Commit to a new pull request ref (refs/pr/N) based on the revision.")


class LfsBatchObject(BaseModel):
    oid: str = Field(pattern=SHA256_PATTERN)
    size: int = Field(ge=0)


class LfsBatchRef(BaseModel):
    name: str = Field(description="The revision the objects are for; the client omits `ref` for a new PR.")


class LfsBatchBody(BaseModel):
    operation: Literal["upload"] = Field(description="Only uploads go through the batch API here.")
    objects: list[LfsBatchObject]
    ref: LfsBatchRef | None = None


class ValidateYamlBody(BaseModel):
    content: str = Field(description="The README, front matter included.")


class UploadUrlParams(BaseModel):
    """What the batch API put in the signed URL."""

    size: int
    expires: int
    reader: str | None = Field(default=None, description="The reader the upload is for (a pull request's author).")
    sig: str


async def preupload(request: web.Request) -> web.Response:
    """Tell the client, per file, whether to send it inline or through LFS, and its current oid (no-op check)."""
    repo = (await committer(request)).repo
    rev_text = request.match_info["rev"]
    body = await read_json(request)
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, list) or len(files) > MAX_PREUPLOAD_FILES:
        raise catalog_error(400, "InvalidInput", f"files must be a list of at most {MAX_PREUPLOAD_FILES} objects")
    pool = request.app[POOL]
    rev = await resolve(pool, repo["id"], rev_text)
    paths = [clean_path(f.get("path") if isinstance(f, dict) else None) for f in files]
    current = {r["path"]: r for r in await store_files.files_at(pool, repo["id"], rev.sha, paths)}
    patterns = await _lfs_patterns(request, await store_files.file(pool, repo["id"], rev.sha, ".gitattributes"))
    if body.get("gitIgnore") is not None and not isinstance(body["gitIgnore"], str):
        raise catalog_error(400, "InvalidInput", "gitIgnore must be the text of a .gitignore file")
    ignored = await _gitignore(request, body.get("gitIgnore"), repo["id"], rev.sha)
    threshold = request.app[FILE_SETTINGS].lfs_threshold_bytes
    answer = []
    for path, item in zip(paths, files, strict=True):
        size, sample = item.get("size"), item.get("sample", "")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(sample, str):
            raise catalog_error(400, "InvalidInput", f"{path!r}: size must be a non-negative integer, sample base64")
        try:
            head = base64.b64decode(sample, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise catalog_error(400, "InvalidInput", f"{path!r}: sample is not valid base64") from exc
        lfs_mode = size > 0 and (size >= threshold or matches_lfs(path, patterns) or looks_binary(head))
        existing = current.get(path)
        oid = None if existing is None else existing["sha256"] if existing["lfs"] else existing["git_oid"]
        skip = path != ".gitignore" and ignored.match_file(path)
        answer.append({"path": path, "uploadMode": "lfs" if lfs_mode else "regular", "shouldIgnore": skip, "oid": oid})
    return json_response({"files": answer, "commitOid": rev.sha})


async def _gitignore(request: web.Request, sent: object, repo_id: str, sha: str) -> pathspec.GitIgnoreSpec:
    """The .gitignore the commit brings (the client sends it along), else the one at the revision."""
    if not isinstance(sent, str):
        entry = await store_files.file(request.app[POOL], repo_id, sha, ".gitignore")
        sent = await _small_text(request, entry) if entry is not None else ""
    return pathspec.GitIgnoreSpec.from_lines(sent.splitlines())


async def _small_text(request: web.Request, entry: asyncpg.Record) -> str:
    if entry["size"] > MAX_RULES_FILE_BYTES:
        return ""
    return b"".join([c async for c in request.app[BLOBS].read(entry["sha256"])]).decode("utf-8", "replace")


async def _lfs_patterns(request: web.Request, entry: asyncpg.Record | None) -> list[str]:
    return lfs_patterns((await _small_text(request, entry)).encode()) if entry is not None else []


@max_body(MAX_COMMIT_BYTES, streamed=True)  # read line by line: each line is bounded, not the body
async def commit(request: web.Request) -> web.Response:
    who = await committer(request)
    repo = who.repo
    max_line = request.app[FILE_SETTINGS].max_commit_line_bytes
    # Read (and store inline contents) before the transaction: the repo is locked only while applying.
    payload = await read_payload(body_chunks(request), request.app[BLOBS], max_line=max_line)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        result = await commits.apply_commit(
            conn,
            request.app[OUTBOX],
            repo,
            request.match_info["rev"],
            payload,
            author=who.user,
            create_pr=who.create_pr,
            reader=who.reader,
        )
        if README in result.changed_on_main:  # the card (cardData, tags) follows main's README, in the same commit
            readme = await store_files.file(conn, repo["id"], result.sha, README)
            await cards.refresh_card_from_blob(conn, request.app[BLOBS], repo["id"], readme)
    url = repo_url(request, repo)
    answer: dict[str, object] = {"success": True, "commitOid": result.sha, "commitUrl": f"{url}/commit/{result.sha}"}
    if result.pr_number is not None:
        answer["pullRequestUrl"] = f"{url}/discussions/{result.pr_number}"
    return json_response(answer)


async def lfs_batch(request: web.Request) -> web.Response:
    """git-lfs batch (upload): objects this repo holds need nothing; the others get a signed PUT URL.

    A reader uploading for a pull request of their own (the client names no ref for a PR not opened yet) holds
    only what they uploaded, and gets URLs that name them: the objects are theirs alone."""
    require_principal(request)  # a call without a token is a 401 whatever its body
    body = await read_json(request)
    who = await batch_committer(request, body)
    objects = lfs.batch_objects(body)
    repo, reader = who.repo, who.user if who.reader else None
    wanted = [oid for oid, _ in objects]
    if reader is None:
        held = await store_files.repo_objects(request.app[POOL], repo["id"], wanted)
    else:
        held = await store_files.reader_objects(request.app[POOL], repo["id"], reader, wanted)
    base_url, key = request.app[CONFIG].http.url, request.app[UPLOAD_SIGNING_KEY]
    ttl = request.app[FILE_SETTINGS].upload_url_ttl_seconds
    answer = []
    for oid, size in objects:
        if oid in held and held[oid] == size:
            answer.append({"oid": oid, "size": size})
        elif oid in held:
            message = f"object {oid} is stored with {held[oid]} bytes, not {size}"
            answer.append({"oid": oid, "size": size, "error": {"code": 422, "message": message}})
        else:
            href = lfs.upload_url(base_url, key, repo["id"], oid, size, ttl, reader)
            answer.append(
                {"oid": oid, "size": size, "authenticated": True, "actions": {"upload": {"href": href, "header": {}}}}
            )
    response = json_response({"transfer": "basic", "objects": answer})
    response.content_type = GIT_LFS_JSON
    return response


@max_body(MAX_LFS_OBJECT_BYTES, streamed=True)  # streamed to the blob store, hashed on the way
async def lfs_upload(request: web.Request) -> web.Response:
    """The PUT target of a signed upload URL: store the bytes if, and only if, they are the announced ones."""
    repo_id, oid = request.match_info["repo_id"], request.match_info["oid"]
    grant = lfs.check_upload_url(request.app[UPLOAD_SIGNING_KEY], repo_id, oid, request.query)
    try:
        await request.app[BLOBS].put(body_chunks(request), expect_sha256=oid, expect_size=grant.size)
    except BlobMismatch as exc:
        raise catalog_error(400, "ChecksumMismatch", f"upload of {oid} refused: {exc}") from exc
    try:
        async with request.app[POOL].acquire() as conn:
            if grant.reader is None:
                await store_files.add_repo_object(conn, repo_id, oid, grant.size)
            else:
                await store_files.add_reader_object(conn, repo_id, grant.reader, oid, grant.size)
    except asyncpg.ForeignKeyViolationError as exc:
        raise catalog_error(404, "RepoNotFound", "the repo this upload was for no longer exists") from exc
    return web.Response(status=200)


async def validate_yaml(request: web.Request) -> web.Response:
    """Check a README's YAML front matter (the client calls this before committing a README.md)."""
    body = await read_json(request)
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, str):
        raise _yaml_error("content must be a string")
    text = content.replace("\r\n", "\n")
    metadata: object = None
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end < 0:
            raise _yaml_error("the YAML front matter is not closed by a '---' line")
        try:
            metadata = yaml.safe_load(text[4:end])
        except yaml.YAMLError as exc:
            raise _yaml_error(f"the YAML front matter is not valid YAML: {exc}") from exc
        if metadata is not None and not isinstance(metadata, dict):
            raise _yaml_error("the YAML front matter must be a mapping (key: value)")
    warnings = [] if metadata else [{"message": "Empty or missing yaml metadata in repo card"}]
    return json_response({"errors": [], "warnings": warnings})


def _yaml_error(message: str) -> Exception:
    # The client reads `errors[].message` of a 400 (and parses the body as JSON whatever the status).
    return catalog_error(400, "InvalidMetadata", message, errors=[{"message": message}], warnings=[])


async def resolve_file(request: web.Request) -> web.StreamResponse:
    """HEAD/GET of a file at a revision: the Hub's metadata headers, real sizes, single byte ranges."""
    repo = await readable_repo(request)
    pool = request.app[POOL]
    await require_file_access(pool, request.get(PRINCIPAL), repo, request.app[CONFIG].http.url)
    rev_text, path = split_rev_and_path(raw_tail(request))
    rev = await resolve_with_tree(request, repo, rev_text)
    entry = await store_files.file(pool, repo["id"], rev.sha, clean_path(path)) if path else None
    if entry is None:
        raise catalog_error(
            404, "EntryNotFound", f"{path!r} does not exist at {rev_text}", headers={"X-Repo-Commit": rev.sha}
        )
    size = entry["size"]
    etag = entry["sha256"] if entry["lfs"] else entry["git_oid"]
    headers = {
        "X-Repo-Commit": rev.sha,
        "ETag": f'"{etag}"',
        "Accept-Ranges": "bytes",
        "Content-Type": mimetypes.guess_type(path)[0] or "application/octet-stream",
    }
    if entry["lfs"]:
        headers |= {"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(size)}
    start, end, status = _byte_range(request, size)
    blob = entry["sha256"]
    if repo["mirror"] is not None and request.method != "HEAD":
        # A mirrored file: from the cache, else fetched from the upstream (streamed through when whole).
        blob = await mirror_files.cached_blob(request.app, entry)
        if blob is None and status == 200:
            return await mirror_files.fetch(request, repo, entry, rev.sha, headers)  # type: ignore[return-value]
        if blob is None:
            blob = await mirror_files.fetch(request, repo, entry, rev.sha, None)  # type: ignore[assignment]
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start
    await response.prepare(request)
    if request.method != "HEAD" and end > start:
        await _send_blob(request, response, blob, start, end)
    await response.write_eof()
    return response


async def _send_blob(request: web.Request, response: web.StreamResponse, sha256: str, start: int, end: int) -> None:
    """Bytes [start, end) of a blob as the (prepared) response's body.

    A blob kept as a local file goes out with sendfile, as aiohttp's FileResponse sends files: the kernel copies
    from the page cache to the socket, and no byte passes through Python (FileResponse itself would replace the
    Hub's ETag by its own and answer ranges in its own words). Other stores stream through `read`."""
    blobs = request.app[BLOBS]
    path, transport = blobs.local_file(sha256), request.transport
    if path is not None and transport is not None and not response.compression:
        with path.open("rb") as blob:
            await asyncio.get_running_loop().sendfile(transport, blob, start, end - start)
        return
    chunks: AsyncIterator[bytes] = blobs.read(sha256, start, end)
    async for chunk in chunks:
        await response.write(chunk)


def _byte_range(request: web.Request, size: int) -> tuple[int, int, int]:
    """(start, end, status) for the Range header: 200 for the whole file, 206 for a slice, else 416."""
    if "Range" not in request.headers:
        return 0, size, 200
    try:
        wanted = request.http_range
    except ValueError:
        return 0, size, 200  # a Range we do not understand is ignored, as RFC 9110 allows
    start, stop = wanted.start, wanted.stop
    if start is None:
        return 0, size, 200
    if start < 0:  # suffix range: the last N bytes
        start = max(size + start, 0)
        stop = size
    end = size if stop is None else min(stop, size)
    if start >= size or start >= end:
        raise catalog_error(
            416,
            "RangeNotSatisfiable",
            f"the range {request.headers['Range']!r} is outside the file ({size} bytes)",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end, 206


async def lfs_batch_model(request: web.Request) -> web.Response:
    """git-lfs batch (upload) for a model repo (no type prefix in git-style URLs)."""
    return await lfs_batch(request)


async def resolve_file_model(request: web.Request) -> web.StreamResponse:
    """A model repo's file at a revision (no type prefix in git-style URLs)."""
    return await resolve_file(request)
