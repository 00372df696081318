"""The ingest service's routes (Nia's v2 paths), each with its OpenAPI operation."""

from __future__ import annotations

from aiohttp import web

from services.ingest import explore_views, responses, views
from services.ingest.chunk_store import TantivyStore
from services.ingest.keys import CHUNKS
from services.ingest.requester_access import setup_requester_access
from services.ingest.semantic import setup_semantic
from services.ingest.settings import IngestSettings
from services.runtime.keys import API, CONFIG

NOT_FOUND = {404: "No data source with that id or name that you may see (SourceNotFound)."}


def setup_routes(app: web.Application) -> None:
    # The chunk store is files on disk (no connection to open): the API reads what the workers write.
    app[CHUNKS] = TantivyStore(IngestSettings.from_infra(app[CONFIG].infra).chunk_dir)
    setup_requester_access(app)
    setup_semantic(app)
    api = app[API]  # every route needs a token (Authorization: Bearer)
    api.post(
        "/v2/huggingface-datasets",
        views.index_dataset,
        body=views.IndexDatasetBody,
        ok=responses.Source,
        errors={403: "A private dataset asked for as a global source (Forbidden)."},
        summary="Index a Hub dataset (or return the global source already asked for)",
    )
    api.get(
        "/v2/data-sources",
        views.list_sources,
        query=views.ListQuery,
        ok=list[responses.Source],
        summary="The data sources you may see, newest first (Nia's legacy list: a bare array)",
    )
    # Nia serves its legacy paths (/v2/data-sources) and the unified ones (/v2/sources) side by side.
    for prefix, kind in (("/v2/data-sources", ""), ("/v2/sources", "_unified")):
        api.get(
            f"{prefix}/{{source_id}}",
            views.get_source,
            ok=responses.Source,
            errors=NOT_FOUND,
            summary="A data source (by id or 'owner/name') and where its indexing stands",
            operation_id=f"get{kind}_source",
        )
        api.delete(
            f"{prefix}/{{source_id}}",
            views.delete_source,
            ok=responses.Deleted,
            errors={**NOT_FOUND, 403: "A shared source someone else asked for (Forbidden)."},
            summary="Stop a source's indexing and delete it with its chunks",
            operation_id=f"delete{kind}_source",
        )
        api.post(
            f"{prefix}/{{source_id}}/grep",
            explore_views.grep_source,
            body=explore_views.GrepBody,
            ok=responses.GrepAnswer,
            errors={**NOT_FOUND, 409: "Nothing is indexed yet (SourceNotIndexed)."},
            summary="A regular expression over every indexed chunk of a source",
            operation_id=f"grep{kind}_source",
        )
    for path, operation_id in (
        ("/v2/data-sources/{source_id}/read", "read_source"),
        ("/v2/sources/{source_id}/content", "read_unified_source"),
    ):
        api.get(
            path,
            explore_views.read_source,
            query=explore_views.ReadQuery,
            ok=responses.ReadAnswer,
            errors={**NOT_FOUND, 409: "Nothing is indexed yet (SourceNotIndexed)."},
            summary="Rows of a split of an indexed source (line n is row n - 1)",
            operation_id=operation_id,
        )
    api.post(
        "/v2/data-sources/{source_id}/cancel",
        views.cancel_source,
        ok=responses.Source,
        errors={
            **NOT_FOUND,
            403: "A shared source someone else asked for (Forbidden).",
            409: "No indexing runs for it (NothingToCancel).",
        },
        summary="Stop a source's indexing (ours: Nia has no cancel); it ends failed, Cancelled",
    )
    api.get(
        "/v2/sources",
        views.list_unified_sources,
        query=views.UnifiedListQuery,
        ok=responses.SourcePage,
        summary="The data sources you may see, as Nia's unified list: {pagination, items}",
    )
    api.post(
        "/v2/search",
        explore_views.search,
        body=explore_views.QuerySearchBody,
        ok=responses.QueryAnswer | responses.UniversalAnswer,
        errors=NOT_FOUND,
        summary="Search named sources (mode query) or every global source (mode universal), ranked by BM25",
    )
    api.post(
        "/v2/search/universal",
        explore_views.universal_search,
        body=explore_views.UniversalSearchBody,
        ok=responses.UniversalAnswer,
        summary="Search every global source (datasets only with include_huggingface_datasets, as Nia does)",
    )
