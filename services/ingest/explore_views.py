"""Thin views for reading, grepping and searching indexed sources (Nia's v2 paths)."""

from __future__ import annotations

import asyncio
import re
import time
from functools import partial
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.ingest import explore, store
from services.ingest.access import find_source
from services.ingest.keys import CHUNKS
from services.ingest.search import SourceHit, has_vectors, search_sources
from services.ingest.semantic import QUERY_EMBEDDER
from services.runtime.auth import require_principal
from services.runtime.errors import ApiError
from services.runtime.http import json_response, parse_body, parse_query
from services.runtime.keys import CONFIG, POOL


class ReadQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str = Field(default="train", min_length=1, max_length=200, description="The split to read.")
    line_start: int = Field(default=1, ge=1, description="First row to read, 1-based (row index + 1).")
    line_end: int | None = Field(default=None, ge=1, description="Last row, inclusive (default: line_start + 49).")
    max_length: int = Field(default=10_000, ge=100, le=100_000)


def _indexed(row) -> str:  # type: ignore[no-untyped-def]
    if not row["index_name"]:
        raise ApiError(
            409, "SourceNotIndexed", f"data source {row['id']} is {row['status']}: nothing is indexed yet to read"
        )
    return row["index_name"]


async def read_source(request: web.Request) -> web.Response:
    principal = require_principal(request)
    query = parse_query(request, ReadQuery)
    row = await find_source(request.app[POOL], principal, request.match_info["source_id"])
    last = query.line_end if query.line_end is not None else query.line_start + 49
    if last < query.line_start:
        raise ApiError(422, "ValidationError", "line_end must not be before line_start")
    last = min(last, query.line_start + 999)
    result = await asyncio.to_thread(
        explore.read_rows,
        request.app[CHUNKS],
        _indexed(row),
        query.path,
        query.line_start - 1,
        last - 1,
        query.max_length,
    )
    url = f"{request.app[CONFIG].infra.catalog_url.rstrip('/')}/datasets/{row['dataset']}"
    return json_response(
        {
            "success": True,
            "path": query.path,
            "url": url,
            "content": result.content,
            "total_lines": (row["split_rows"] or {}).get(query.path, 0),
            "returned_lines": [query.line_start, last],
            "truncated": result.truncated,
            "split": query.path,
            "row_index": query.line_start - 1,
            "chunks_returned": result.chunks,
            "source_type": "huggingface_dataset",
            "metadata": {
                "url": url,
                "source_id": str(row["id"]),
                "chunks_found": result.chunks,
                "title": row["dataset"],
            },
        }
    )


class GrepBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pattern: str = Field(min_length=1, max_length=1000)
    path: str = Field(default="/", max_length=200, description='"/" for every split, or a split name.')
    context_lines: int = Field(default=0, ge=0, le=10)
    A: int | None = Field(default=None, ge=0, le=20)
    B: int | None = Field(default=None, ge=0, le=20)
    case_sensitive: bool = False
    whole_word: bool = False
    fixed_string: bool = False
    max_matches_per_file: int = Field(default=10, ge=1, le=100)
    max_total_matches: int = Field(default=100, ge=1, le=1000)
    output_mode: Literal["content", "files_with_matches", "count"] = "content"


async def grep_source(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, GrepBody)
    row = await find_source(request.app[POOL], principal, request.match_info["source_id"])
    options = explore.GrepOptions(
        pattern=body.pattern,
        split=None if body.path in ("", "/") else body.path.strip("/"),
        case_sensitive=body.case_sensitive,
        whole_word=body.whole_word,
        fixed_string=body.fixed_string,
        before=body.B if body.B is not None else body.context_lines,
        after=body.A if body.A is not None else body.context_lines,
        max_matches_per_split=body.max_matches_per_file,
        max_total_matches=body.max_total_matches,
    )
    try:
        explore.compile_pattern(options)
    except re.error as exc:
        raise ApiError(
            422,
            "InvalidPattern",
            f"pattern {body.pattern!r} is not a valid regular expression: {exc}",
            details=[{"loc": ["body", "pattern"], "msg": f"invalid regular expression: {exc}", "type": "value_error"}],
        ) from exc
    result = await asyncio.to_thread(explore.grep, request.app[CHUNKS], _indexed(row), options)
    if body.output_mode != "content":
        result["matches"] = []
    return json_response(
        {
            "success": True,
            "source_type": "huggingface_dataset",
            **result,
            "pattern": body.pattern,
            "path_filter": body.path,
            "options": {
                "case_sensitive": body.case_sensitive,
                "whole_word": body.whole_word,
                "lines_before": options.before,
                "lines_after": options.after,
                "output_mode": body.output_mode,
            },
        }
    )


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(max_length=50)
    content: str = Field(max_length=10_000)


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source_id: str | None = Field(default=None, max_length=300)
    identifier: str | None = Field(default=None, max_length=300)


class QuerySearchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    mode: Literal["query", "universal"] = "query"
    messages: list[Message] = Field(default_factory=list, max_length=100)
    query: str | None = Field(default=None, max_length=10_000)
    data_sources: list[str | SourceRef] = Field(default_factory=list, max_length=100)
    search_mode: Literal["unified", "repositories", "sources"] = "unified"
    include_sources: bool = True
    top_k: int = Field(default=20, ge=1, le=100)
    include_huggingface_datasets: bool = False
    alpha: float = Field(default=0.7, ge=0.0, le=1.0)


class UniversalSearchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: str = Field(min_length=1, max_length=10_000)
    top_k: int = Field(default=20, ge=1, le=100)
    include_huggingface_datasets: bool = False
    alpha: float = Field(default=0.7, ge=0.0, le=1.0, description="Weight of vector search; 1 - alpha for BM25.")


async def search(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, QuerySearchBody)
    if body.mode == "universal":
        text = body.query or _last_user_message(body)
        return await _universal(
            request,
            UniversalSearchBody(
                query=text,
                top_k=body.top_k,
                include_huggingface_datasets=body.include_huggingface_datasets,
                alpha=body.alpha,
            ),
        )
    text = _last_user_message(body)
    if not body.data_sources:
        raise ApiError(
            422,
            "ValidationError",
            "name the data sources to search in data_sources (ids or 'owner/name')",
            details=[{"loc": ["body", "data_sources"], "msg": "at least one data source", "type": "missing"}],
        )
    pool = request.app[POOL]
    sources = []
    for ref in body.data_sources:
        identifier = ref if isinstance(ref, str) else (ref.source_id or ref.identifier or "")
        sources.append(await find_source(pool, principal, identifier))
    hits, mode = await _search(request, sources, text, body.top_k, body.alpha)
    catalog_url = request.app[CONFIG].infra.catalog_url
    lines = [f"[{h.path}] {h.hit.text}" for h in hits]
    return json_response(
        {
            "content": "\n\n".join(lines) if lines else f"No indexed rows match {text!r}.",
            "sources": [h.as_json(catalog_url) for h in hits] if body.include_sources else [],
            "source_paths": [h.path for h in hits],
            "search_mode": mode,
        }
    )


async def _search(
    request: web.Request, sources: list, text: str, limit: int, alpha: float
) -> tuple[list[SourceHit], str]:
    """Hybrid over the sources that have vectors when the model is installed here; keyword otherwise."""
    vector = None
    if any(has_vectors(s) for s in sources):
        vector = await request.app[QUERY_EMBEDDER].query_vector(text)
    return await asyncio.to_thread(
        partial(search_sources, alpha=alpha, query_vector=vector), request.app[CHUNKS], sources, text, limit
    )


def _last_user_message(body: QuerySearchBody) -> str:
    for message in reversed(body.messages):
        if message.role == "user" and message.content.strip():
            return message.content
    if body.query:
        return body.query
    raise ApiError(
        422,
        "ValidationError",
        "give the question as a user message in messages (or as query)",
        details=[{"loc": ["body", "messages"], "msg": "a user message is required", "type": "missing"}],
    )


async def universal_search(request: web.Request) -> web.Response:
    require_principal(request)
    return await _universal(request, await parse_body(request, UniversalSearchBody))


async def _universal(request: web.Request, body: UniversalSearchBody) -> web.Response:
    started = time.monotonic()
    sources = (
        await store.global_completed_sources(request.app[POOL], limit=50) if body.include_huggingface_datasets else []
    )
    hits, mode = await _search(request, sources, body.query, body.top_k, body.alpha)
    catalog_url = request.app[CONFIG].infra.catalog_url
    return json_response(
        {
            "results": [
                {
                    "content": h.hit.text,
                    "summary": None,
                    "score": h.hit.score,
                    "confidence": None,
                    "source": {
                        "type": "huggingface_dataset",
                        "url": f"{catalog_url.rstrip('/')}/datasets/{h.source['dataset']}",
                        "namespace": f"global-{h.source['id']}",
                        "file_path": f"{h.hit.split}/{h.hit.row_index}",
                        "display_name": h.source["dataset"],
                    },
                    "split": h.hit.split,
                    "row_index": h.hit.row_index,
                }
                for h in hits
            ],
            "sources_searched": len(sources),
            "query_time_ms": round((time.monotonic() - started) * 1000),
            "errors": None,
            "answer": None,
            "search_mode": mode,
        }
    )
