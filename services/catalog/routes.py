"""The catalog's routes (the Hub's paths)."""

from __future__ import annotations

from aiohttp import web

from services.catalog import files_views, history_views, parquet_views, views
from services.catalog.files_resources import files_ctx

REPO_API = r"/api/{type:models|datasets|spaces}/{namespace}/{name}"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/whoami-v2", views.whoami)
    app.router.add_post("/api/repos/create", views.create_repo_view)
    app.router.add_get(REPO_API, views.repo_info)
    setup_file_routes(app)


def setup_file_routes(app: web.Application) -> None:
    """Files and history: uploads, downloads, tree, refs, commits, branches, tags."""
    app.cleanup_ctx.append(files_ctx)
    r = app.router
    r.add_get(REPO_API + "/revision/{rev:.+}", views.repo_info)
    r.add_post(REPO_API + "/preupload/{rev:.+}", files_views.preupload)
    r.add_post(REPO_API + "/commit/{rev:.+}", files_views.commit)
    r.add_get(REPO_API + "/tree/{rest:.*}", history_views.tree)
    r.add_post(REPO_API + "/paths-info/{rev:.+}", history_views.paths_info)
    r.add_get(REPO_API + "/refs", history_views.list_refs)
    r.add_get(REPO_API + "/commits/{rev:.+}", history_views.list_commits)
    r.add_post(REPO_API + "/branch/{ref:.+}", history_views.create_branch)
    r.add_delete(REPO_API + "/branch/{ref:.+}", history_views.delete_branch)
    r.add_post(REPO_API + "/tag/{ref:.+}", history_views.create_tag)
    r.add_delete(REPO_API + "/tag/{ref:.+}", history_views.delete_tag)
    r.add_post(REPO_API + "/super-squash/{ref:.+}", history_views.super_squash)
    r.add_post("/api/validate-yaml", files_views.validate_yaml)
    r.add_put("/api/lfs-upload/{repo_id:[0-9a-f]{24}}/{oid}", files_views.lfs_upload)
    parquet = "/api/{type:datasets}/{namespace}/{name}/parquet"
    r.add_get(parquet, parquet_views.all_configs)
    r.add_get(parquet + "/{config}", parquet_views.one_config)
    r.add_get(parquet + "/{config}/{split}", parquet_views.one_split)
    r.add_get(parquet + r"/{config}/{split}/{n:\d{1,6}}.parquet", parquet_views.shard)
    # Git-style paths: datasets/ and spaces/ first, so a model route never reads "datasets" as a namespace.
    for prefix in (r"/{prefix:datasets|spaces}", ""):
        r.add_post(prefix + r"/{namespace}/{name:[^/]+?}.git/info/lfs/objects/batch", files_views.lfs_batch)
        r.add_get(prefix + "/{namespace}/{name}/resolve/{rest:.+}", files_views.resolve_file)
