"""The ingest service's routes (Nia's v2 paths)."""

from __future__ import annotations

from aiohttp import web

from services.ingest import explore_views, views
from services.ingest.chunk_store import TantivyStore
from services.ingest.keys import CHUNKS
from services.ingest.settings import IngestSettings
from services.runtime.keys import CONFIG


def setup_routes(app: web.Application) -> None:
    # The chunk store is files on disk (no connection to open): the API reads what the workers write.
    settings = IngestSettings.from_infra(app[CONFIG].infra)
    app[CHUNKS] = TantivyStore(settings.chunk_dir)

    app.router.add_post("/v2/huggingface-datasets", views.index_dataset)
    app.router.add_get("/v2/data-sources", views.list_sources)
    app.router.add_get("/v2/data-sources/{source_id}", views.get_source)
    app.router.add_delete("/v2/data-sources/{source_id}", views.delete_source)
    app.router.add_post("/v2/data-sources/{source_id}/cancel", views.cancel_source)  # ours: Nia has no cancel
    app.router.add_get("/v2/data-sources/{source_id}/read", explore_views.read_source)
    app.router.add_post("/v2/data-sources/{source_id}/grep", explore_views.grep_source)
    app.router.add_get("/v2/sources", views.list_unified_sources)
    app.router.add_get("/v2/sources/{source_id}", views.get_source)
    app.router.add_delete("/v2/sources/{source_id}", views.delete_source)
    app.router.add_get("/v2/sources/{source_id}/content", explore_views.read_source)
    app.router.add_post("/v2/sources/{source_id}/grep", explore_views.grep_source)
    app.router.add_post("/v2/search", explore_views.search)
    app.router.add_post("/v2/search/universal", explore_views.universal_search)
