"""The catalog's routes (the Hub's paths), each with its OpenAPI operation."""

from __future__ import annotations

from aiohttp import web

from services.catalog import files_views, history_views, mirror_files, parquet_views, repo_views, views
from services.catalog.collection_views import setup_collection_routes
from services.catalog.community_routes import setup_community_routes
from services.catalog.croissant_views import setup_croissant_routes
from services.catalog.duplicate_views import setup_duplicate_routes
from services.catalog.file_responses import (
    CommitDone,
    CommitEntry,
    Empty,
    LfsBatch,
    ParquetConfigs,
    ParquetSplits,
    Preupload,
    Refs,
    Squashed,
    TreeEntry,
    YamlCheck,
)
from services.catalog.files_resources import files_ctx
from services.catalog.listing import InfoParams, ListParams
from services.catalog.paper_views import setup_paper_routes
from services.catalog.responses import (
    CreatedRepo,
    DeletedRepo,
    MovedRepo,
    RepoInfo,
    RepoSettings,
    TagsByType,
    WhoAmI,
)
from services.catalog.space_views import setup_space_routes
from services.runtime.keys import API

TYPES = "{type:models|datasets|spaces}"
REPO = f"/api/{TYPES}/{{namespace}}/{{name}}"

REPO_NOT_FOUND = "No such repo, or a private one the caller may not see (RepoNotFound)."
NOT_FOUND = "No such repo (or a private one the caller may not see), revision, file or folder."
INVALID = "An invalid repo id, revision, path, parameter or body (InvalidName, InvalidPath, InvalidRef, InvalidInput)."
MOVED = (None, "The repo was moved: `Location` is the same URL under its new name (a read by an old name).")
NOT_ADMIN = "The token is read-only, or its user does not administer the repo (Forbidden)."


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
    api.delete(
        "/api/repos/delete",
        repo_views.delete_repo_view,
        body=repo_views.RepoNameBody,
        ok=DeletedRepo,
        errors={400: "Invalid body or repo name (InvalidName).", 403: NOT_ADMIN, 404: REPO_NOT_FOUND},
        token="required",
        summary="Delete a repo",
    )
    api.post(
        "/api/repos/move",
        repo_views.move_repo_view,
        body=repo_views.MoveRepoBody,
        ok=MovedRepo,
        errors={
            400: "Invalid body, `fromRepo`/`toRepo` not `namespace/name`, or a move onto its own name.",
            403: "The caller does not administer the repo, or may not create repos in the target namespace.",
            404: "No such repo (RepoNotFound), or no user or organization of the target's namespace (NotFound).",
            409: "A repo of that type already has the target name (RepoExists).",
        },
        token="required",
        summary="Rename a repo or move it to another namespace (its old name redirects)",
    )
    api.get(
        f"/api/{TYPES}",
        repo_views.list_repos_view,
        query=ListParams,
        ok=list[RepoInfo],
        errors={400: "A parameter out of range: sort key, limit, direction, boolean, expand or cursor."},
        summary='List repos of a type (keyset pages; `Link: rel="next"` names the next one)',
    )
    api.get(
        "/api/{type:models|datasets}-tags-by-type",
        repo_views.tags_by_type_view,
        ok=TagsByType,
        summary="The tags listings filter on, by group",
    )
    api.get(
        REPO,
        views.repo_info,
        query=InfoParams,
        ok=RepoInfo,
        errors={400: INVALID, 404: NOT_FOUND},
        also={307: MOVED},
        summary="A repo's info",
    )
    api.put(
        f"{REPO}/settings",
        repo_views.settings_view,
        body=repo_views.SettingsBody,
        ok=RepoSettings,
        errors={403: NOT_ADMIN, 404: REPO_NOT_FOUND},
        token="required",
        summary="Change a repo's visibility or gating",
    )
    setup_file_routes(app)
    setup_collection_routes(app)
    setup_paper_routes(app)
    setup_space_routes(app)
    setup_duplicate_routes(app)
    setup_community_routes(app)
    setup_croissant_routes(app)
    # Innermost, so it sees a view's RepoNotFound before it is rendered: old names of moved repos redirect.
    app.middlewares.append(repo_views.follow_moved_repos)


def setup_file_routes(app: web.Application) -> None:
    """Files and history: uploads, downloads, tree, refs, commits, branches, tags, parquet listings."""
    app.cleanup_ctx.append(files_ctx)
    mirror_files.setup_mirror_files(app)
    api = app[API]
    # Revisions, refs and paths (`[\s\S]+`: any character, a newline too) are judged by the views, after the token
    # check, so a strange one gets the view's 400/404 rather than the router's "no such route".
    read_errors = {400: INVALID, 404: NOT_FOUND}
    # Reads of the files at a revision: of a mirrored repo, an older commit's tree is fetched on its first read.
    tree_errors = {
        **read_errors,
        502: "An older commit of a mirrored repo whose tree is not copied yet, and its upstream Hub did not give "
        "it (UpstreamUnavailable).",
    }
    write_errors = {**read_errors, 403: "The token's user may read the repo but not write to it (Forbidden)."}
    # Readers commit to pull requests of their own (create_pr=1, or refs/pr/N of an open PR they opened).
    commit_errors = {
        **read_errors,
        403: "A read-only token, a branch (or someone else's PR) the caller may not write to (Forbidden), "
        "or a mirror's read-only copy (MirrorReadOnly).",
    }
    api.post(
        REPO + "/preupload/{rev:[\\s\\S]+}",
        files_views.preupload,
        body=files_views.PreuploadBody,
        query=files_views.CommitParams,
        ok=Preupload,
        errors=commit_errors,
        token="required",
        summary="How to send each file (LFS or inline) and its current oid",
    )
    api.post(
        REPO + "/commit/{rev:[\\s\\S]+}",
        files_views.commit,
        body=files_views.CommitLines,
        body_media_type="application/x-ndjson",  # one JSON object per line: the header, then the operations
        query=files_views.CommitParams,
        ok=CommitDone,
        errors={
            **commit_errors,
            412: "parentCommit is not the branch head any more (CommitConflict).",
            413: "A line of the payload is longer than the catalog accepts.",
            422: "An LFS object the commit names was never uploaded, or has another size.",
        },
        token="required",
        summary="Commit (NDJSON body: a header line, then file, lfsFile, deletedFile, deletedFolder lines)",
    )
    for path, view, query, ok, errors, summary in (
        (
            "/revision/{rev:[\\s\\S]+}",
            views.repo_info_at_revision,
            InfoParams,
            RepoInfo,
            tree_errors,
            "A repo's info at a revision",
        ),
        (
            "/tree/{rest:[\\s\\S]+}",
            history_views.tree,
            history_views.TreeParams,
            list[TreeEntry],
            tree_errors,
            "Files and folders at a revision (`{rev}[/{path}]`; recursive, expand; Link pages)",
        ),
        (
            "/refs",
            history_views.list_refs,
            history_views.RefsParams,
            Refs,
            read_errors,
            "Branches, tags, conversions and PRs",
        ),
        (
            "/commits/{rev:[\\s\\S]+}",
            history_views.list_commits,
            history_views.CommitsParams,
            list[CommitEntry],
            read_errors,
            "Commits reachable from a revision, newest first (Link pages)",
        ),
    ):
        api.get(REPO + path, view, query=query, ok=ok, errors=errors, also={307: MOVED}, summary=summary)
    api.post(
        REPO + "/paths-info/{rev:[\\s\\S]+}",
        history_views.paths_info,
        ok=list[TreeEntry],
        errors=tree_errors,
        summary="Entries for the given paths that exist (form-encoded `paths`, `expand`)",
    )
    ref_errors = {**write_errors, 409: "The branch or tag exists (RefExists)."}
    for method, path, view, body, ok, errors, summary in (
        (
            "POST",
            "/branch/",
            history_views.create_branch,
            history_views.CreateBranchBody,
            Empty,
            ref_errors,
            "Create a branch",
        ),
        ("DELETE", "/branch/", history_views.delete_branch, None, Empty, write_errors, "Delete a branch"),
        (
            "POST",
            "/tag/",
            history_views.create_tag,
            history_views.CreateTagBody,
            Empty,
            ref_errors,
            "Tag a revision (the tag's name in the body)",
        ),
        ("DELETE", "/tag/", history_views.delete_tag, None, Empty, write_errors, "Delete a tag"),
        (
            "POST",
            "/super-squash/",
            history_views.super_squash,
            history_views.SquashBody,
            Squashed,
            write_errors,
            "Squash a branch's history into one commit",
        ),
    ):
        api.route(
            method,
            REPO + path + "{ref:[\\s\\S]+}",
            view,
            body=body,
            ok=ok,
            errors=errors,
            token="required",
            summary=summary,
        )
    api.post(
        "/api/validate-yaml",
        files_views.validate_yaml,
        body=files_views.ValidateYamlBody,
        ok=YamlCheck,
        errors={400: "The README's YAML front matter is invalid (InvalidMetadata; the body adds `errors`)."},
        summary="Check a README's YAML metadata",
    )
    api.put(
        "/api/lfs-upload/{repo_id:[0-9a-f]{24}}/{oid:[0-9a-f]{64}}",
        files_views.lfs_upload,
        query=files_views.UploadUrlParams,
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
    api.get(
        parquet,
        parquet_views.all_configs,
        ok=ParquetConfigs,
        errors=parquet_errors,
        summary="A dataset's parquet shards: config -> split -> shard URLs",
    )
    api.get(
        parquet + "/{config}",
        parquet_views.one_config,
        ok=ParquetSplits,
        errors=parquet_errors,
        summary="The parquet shards of one config: split -> shard URLs",
    )
    api.get(
        parquet + "/{config}/{split}",
        parquet_views.one_split,
        ok=list[str],
        errors=parquet_errors,
        summary="The parquet shard URLs of one split of one config",
    )
    api.get(
        parquet + r"/{config}/{split}/{n:\d{1,6}}.parquet",
        parquet_views.shard,
        ok=None,
        status=302,
        errors=parquet_errors,
        summary="One parquet shard: a redirect to its file at main's head",
    )
    # Git-style paths: datasets/ and spaces/ first, so a model route never reads "datasets" as a namespace.
    for prefix, batch, resolve in (
        (r"/{prefix:datasets|spaces}", files_views.lfs_batch, files_views.resolve_file),
        ("", files_views.lfs_batch_model, files_views.resolve_file_model),
    ):
        api.post(
            prefix + r"/{namespace}/{name:[^/]+?}.git/info/lfs/objects/batch",
            batch,
            body=files_views.LfsBatchBody,
            ok=LfsBatch,
            errors=commit_errors,
            token="required",
            media_type=files_views.GIT_LFS_JSON,
            summary="git-lfs batch API (upload): a signed PUT URL per object the repo lacks",
        )
        api.get(
            prefix + "/{namespace}/{name}/resolve/{rest:[\\s\\S]+}",
            resolve,
            ok=bytes,
            media_type="*/*",  # the file's own type, guessed from its name
            errors={
                **read_errors,
                401: "A gated repo's file without a token (GatedRepo), or a token that is not valid.",
                403: "A gated repo's file, and the caller is not among those with access (GatedRepo).",
                416: "The Range is outside the file.",
                502: "A mirrored file not cached yet, or at an older commit whose tree is not copied yet, and its "
                "upstream Hub did not give it (UpstreamUnavailable).",
            },
            also={206: (bytes, "The requested byte range."), 307: MOVED},
            summary="A file at a revision (`{rev}/{path}`), with the Hub's metadata headers; Range → 206",
        )
