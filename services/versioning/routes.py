"""The versioning service's routes: Humanloop's /v5 datasets API, and our additions (README: Versioning API)."""

from __future__ import annotations

from aiohttp import web

from services.versioning import views

V5 = "/v5/datasets"


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(V5, views.upsert)
    r.add_get(V5, views.list_datasets)
    r.add_get(V5 + "/{id}", views.get_dataset)
    r.add_delete(V5 + "/{id}", views.delete_dataset)
    r.add_patch(V5 + "/{id}", views.move_dataset)
    r.add_get(V5 + "/{id}/datapoints", views.list_datapoints)
    r.add_post(V5 + "/{id}/datapoints/csv", views.upload_csv)
    r.add_get(V5 + "/{id}/versions", views.list_versions)
    r.add_get(V5 + "/{id}/versions/diff", views.diff_versions)
    r.add_post(V5 + "/{id}/versions/{version_id}/commit", views.commit_version)
    r.add_patch(V5 + "/{id}/versions/{version_id}", views.update_version)
    r.add_delete(V5 + "/{id}/versions/{version_id}", views.delete_version)
    r.add_post(V5 + "/{id}/versions/{version_id}/restore", views.restore_version)
    r.add_get(V5 + "/{id}/versions/{version_id}/export", views.export_version)
    r.add_get(V5 + "/{id}/environments", views.list_environments)
    r.add_get(V5 + "/{id}/environments/history", views.environment_history)
    r.add_post(V5 + "/{id}/environments/{environment_id}", views.set_deployment)
    r.add_delete(V5 + "/{id}/environments/{environment_id}", views.remove_deployment)
