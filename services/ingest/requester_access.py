"""The requester's own right to read a dataset, checked with their token before the worker reads it.

The worker reads datasets as ingest's service account (services/runtime/service_accounts.py), which
sees every repo. So that it indexes a private dataset only for someone who may read it, the API asks
the catalog with the requester's own token when the request arrives, and records on the source that
the requester reads it (`reader_checked`). A private dataset without that mark (someone else's, or
asked for by a raw Kafka event) fails as not found, exactly as if the worker read anonymously.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.ingest.catalog_client import CatalogClient, CatalogUnavailable
from services.runtime.auth import bearer_token
from services.runtime.errors import ApiError
from services.runtime.keys import CONFIG

log = logging.getLogger(__name__)

CATALOG_SESSION = web.AppKey("catalog_session", aiohttp.ClientSession)


async def _catalog_session(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[CATALOG_SESSION] = session
        yield


def setup_requester_access(app: web.Application) -> None:
    app.cleanup_ctx.append(_catalog_session)


async def requester_reads_private(request: web.Request, dataset: str, *, is_global: bool) -> bool:
    """True when `dataset` is private and the requester's token reads it on the catalog.

    False when it is public, or the requester cannot see it (missing, or someone else's private
    dataset: the source is recorded and its run fails as not found, or follows the repo when it
    appears). A private dataset asked for as a global (shared) source is a 403: its index would show
    its rows to everyone.
    """
    client = CatalogClient(request.app[CATALOG_SESSION], request.app[CONFIG].infra.catalog_url, bearer_token(request))
    try:
        status, info = await client.dataset_info(dataset)
    except CatalogUnavailable as exc:
        # The run is not blocked for a public dataset; a private one fails as not found, which says to ask again.
        log.warning("could not check whether the requester reads %s: %s", dataset, exc)
        return False
    if status != 200 or not isinstance(info, dict) or info.get("private") is not True:
        return False
    if is_global:
        raise ApiError(
            403,
            "Forbidden",
            f"dataset {dataset} is private: ask with add_as_global_source=false, so that only you see its index",
        )
    return True
