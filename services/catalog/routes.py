"""The catalog's routes (the Hub's paths), each with its OpenAPI operation."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.catalog import files_views, history_views, parquet_views, views
from services.catalog.files_resources import files_ctx
from services.catalog.responses import CreatedRepo, RepoInfo, WhoAmI
from services.runtime.keys import API

REPO_API = r"/api/{type:models|datasets|spaces}/{namespace}/{name}"
# Revisions, refs and paths (`[\s\S]+`: any character, a newline too) are judged by the views, after the token
# check, so a strange one gets the view's 400/404 rather than the router's "no such route".
NOT_FOUND = "No such repo (or a private one the caller may not see), revision, file or folder."
INVALID = "An invalid repo id, revision, path or body (InvalidName, InvalidPath, InvalidRef, InvalidInput)."


def setup_routes(app: web.Application) -> None:
    api = app[API]  # anonymous calls allowed unless token="required" (the Hub reads public repos anonymously)
    api.get("/api/whoami-v2", views.whoami, ok=WhoAmI, token="required", summary="The token's user")
    api.post(
        "/api/repos/create",
        views.create_repo_view,
        body=views.CreateRepoBody,
        ok=CreatedRepo,
        errors={
            400: "Invalid body or repo name.",
            403: "The token's user may not create repos in that organization.",
            404: "No user or organization of that name.",
            409: "It exists (the body's `url` names it).",
        },
        token="required",
        summary="Create a repo",
    )
    api.get(
        REPO_API,
        views.repo_info,
        ok=RepoInfo,
        errors={400: INVALID, 404: "No such repo, or a private one the caller may not see (RepoNotFound)."},
        summary="A repo's info",
    )
    setup_file_routes(app)


def setup_file_routes(app: web.Application) -> None:
    """Files and history: uploads, downloads, tree, refs, commits, branches, tags, parquet listings."""
    app.cleanup_ctx.append(files_ctx)
    api = app[API]
    read_errors = {400: INVALID, 404: NOT_FOUND}
    # Writes need a token, but are declared "optional": the catalog lets anonymous requests through to routing
    # (the Hub reads public repos anonymously), so a path no route matches answers 404 before any view could
    # ask for a token. Every view that writes answers 401 without one.
    write_errors = {
        **read_errors,
        401: "No token (writing needs one), or a token that is not valid.",
        403: "The token's user may read the repo but not write to it.",
    }
    json_object = dict[str, Any]
    api.post(
        REPO_API + "/preupload/{rev:[\\s\\S]+}",
        files_views.preupload,
        body=json_object,
        ok=json_object,
        errors=write_errors,
        token="optional",
        summary="How to send each file (LFS or inline) and its current oid",
    )
    api.post(
        REPO_API + "/commit/{rev:[\\s\\S]+}",
        files_views.commit,
        ok=json_object,
        errors={
            **write_errors,
            412: "parentCommit is not the branch head any more (CommitConflict).",
            413: "A line of the payload is longer than the catalog accepts.",
            422: "An LFS object the commit names was never uploaded, or has another size.",
        },
        token="optional",
        summary="Commit (NDJSON: a header line, then file, lfsFile, deletedFile, deletedFolder lines)",
    )
    for method, path, view, ok, summary in (
        ("GET", "/revision/{rev:[\\s\\S]+}", views.repo_info_at_revision, RepoInfo, "A repo's info at a revision"),
        (
            "GET",
            "/tree/{rest:[\\s\\S]+}",
            history_views.tree,
            list[json_object],
            "Files and folders at `{rev}[/{path}]`",
        ),
        ("POST", "/paths-info/{rev:[\\s\\S]+}", history_views.paths_info, list[json_object], "Entries of given paths"),
        ("GET", "/refs", history_views.list_refs, json_object, "Branches, tags, converts and PRs"),
        ("GET", "/commits/{rev:[\\s\\S]+}", history_views.list_commits, list[json_object], "Commits, newest first"),
    ):
        api.route(method, REPO_API + path, view, ok=ok, errors=read_errors, summary=summary)
    ref_errors = {**write_errors, 409: "The branch or tag exists (RefExists)."}
    for method, path, view, summary in (
        ("POST", "/branch/{ref:[\\s\\S]+}", history_views.create_branch, "Create a branch"),
        ("DELETE", "/branch/{ref:[\\s\\S]+}", history_views.delete_branch, "Delete a branch"),
        ("POST", "/tag/{ref:[\\s\\S]+}", history_views.create_tag, "Tag a revision (its name in the body)"),
        ("DELETE", "/tag/{ref:[\\s\\S]+}", history_views.delete_tag, "Delete a tag"),
        (
            "POST",
            "/super-squash/{ref:[\\s\\S]+}",
            history_views.super_squash,
            "Squash a branch's history into one commit",
        ),
    ):
        body = json_object if method == "POST" else None
        api.route(
            method,
            REPO_API + path,
            view,
            body=body,
            ok=json_object,
            errors=ref_errors,
            token="optional",
            summary=summary,
        )
    api.post(
        "/api/validate-yaml",
        files_views.validate_yaml,
        body=json_object,
        ok=json_object,
        errors={400: "The README's YAML front matter is invalid (`errors[].message`)."},
        summary="Check a README's YAML metadata",
    )
    api.put(
        "/api/lfs-upload/{repo_id:[0-9a-f]{24}}/{oid:[0-9a-f]{64}}",
        files_views.lfs_upload,
        ok=None,
        errors={
            400: "The bytes differ from the announced sha256 or size (ChecksumMismatch).",
            403: "The URL was altered, forged or expired (InvalidUploadUrl).",
            404: "The repo no longer exists.",
            413: "Larger than the catalog accepts.",
        },
        token="optional",  # the URL authorizes; the client sends no token (a wrong one is still refused)
        summary="The upload target of a signed LFS URL (no token: the URL authorizes)",
    )
    parquet = "/api/{type:datasets}/{namespace}/{name}/parquet"
    parquet_errors = {400: INVALID, 404: "No such dataset, or no parquet files for it (ParquetNotFound)."}
    api.get(parquet, parquet_views.all_configs, ok=json_object, errors=parquet_errors)
    api.get(parquet + "/{config}", parquet_views.one_config, ok=json_object, errors=parquet_errors)
    api.get(parquet + "/{config}/{split}", parquet_views.one_split, ok=list[str], errors=parquet_errors)
    api.get(
        parquet + r"/{config}/{split}/{n:\d{1,6}}.parquet",
        parquet_views.shard,
        ok=None,
        status=302,
        errors=parquet_errors,
    )
    # Git-style paths: datasets/ and spaces/ first, so a model route never reads "datasets" as a namespace.
    for prefix, batch, resolve in (
        (r"/{prefix:datasets|spaces}", files_views.lfs_batch, files_views.resolve_file),
        ("", files_views.lfs_batch_model, files_views.resolve_file_model),
    ):
        api.post(
            prefix + r"/{namespace}/{name:[^/]+?}.git/info/lfs/objects/batch",
            batch,
            body=json_object,
            ok=json_object,
            errors=write_errors,
            token="optional",
            media_type="application/vnd.git-lfs+json",
            summary="git-lfs batch API (upload): a signed PUT URL per object the repo lacks",
        )
        api.get(
            prefix + "/{namespace}/{name}/resolve/{rest:[\\s\\S]+}",
            resolve,
            ok=bytes,
            media_type="application/octet-stream",
            errors={**read_errors, 416: "The Range is outside the file."},
            also={206: (bytes, "The requested byte range.")},
            summary="A file at a revision (`{rev}/{path}`), with the Hub's metadata headers; Range → 206",
        )
