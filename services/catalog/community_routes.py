"""Discussions and pull requests, likes, organizations and resource groups: each part's routes."""

from __future__ import annotations

from aiohttp import web

from services.catalog.discussion_views import setup_discussion_routes
from services.catalog.like_views import setup_like_routes
from services.catalog.org_views import setup_org_routes


def setup_community_routes(app: web.Application) -> None:
    setup_discussion_routes(app)
    setup_like_routes(app)
    setup_org_routes(app)
