"""Data sources: asking for an index, and the record clients poll (Nia's shape)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg

from contracts.ingest import IndexFailed, IndexRequested
from services.ingest import store
from services.runtime.errors import ApiError
from services.runtime.http import iso_utc
from services.runtime.outbox import Outbox

# "owner/name", "name", or a dataset URL on any Hub host: .../datasets/owner/name[/viewer/...]
_URL = re.compile(r"^https?://[^/]+/datasets/(?P<id>[^/?#\s]+(?:/[^/?#\s]+)?)")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_URL_TAILS = ("viewer", "tree", "blob", "resolve", "discussions")


def dataset_from_url(url: str) -> str:
    """The catalog dataset id that `url` names, or ApiError 422 saying what was expected."""
    text = url.strip()
    if match := _URL.match(text):
        parts = match["id"].split("/")
        if len(parts) == 2 and parts[1] in _URL_TAILS:
            parts = parts[:1]
        text = "/".join(parts)
    if not _ID.match(text):
        raise ApiError(
            422,
            "InvalidDatasetUrl",
            f"{url!r} is not a dataset: give 'owner/name' or a dataset URL such as "
            "https://huggingface.co/datasets/owner/name",
            details=[{"loc": ["body", "url"], "msg": "not a Hugging Face dataset id or URL", "type": "value_error"}],
        )
    return text


async def request_index(
    conn: asyncpg.Connection,
    outbox: Outbox,
    *,
    dataset: str,
    config: str | None,
    is_global: bool,
    requested_by: str | None,
    reader_checked: bool = False,
) -> asyncpg.Record:
    """Record (or reuse) the source and ask for an index run; the run happens in an ingest worker.

    A global source is shared: asking again while it is pending, processing or
    completed returns it as it is ("indexing started or completed"); a failed
    one is asked again. `reader_checked`: the requester was shown to read the
    (private) dataset, so the worker may read it for this source.
    """
    if is_global and (existing := await store.global_source(conn, dataset, config)) is not None:
        existing = await store.lock_source(conn, existing["id"])
        assert existing is not None
        if existing["status"] != "failed":
            return existing
        row = await store.mark_requested(conn, existing["id"])
    else:
        row = await store.insert_source(
            conn,
            source_id=uuid.uuid4(),
            dataset=dataset,
            config=config,
            is_global=is_global,
            requested_by=requested_by,
            reader_checked=reader_checked,
        )
        if row is None:  # a concurrent request created the global source first
            return await request_index(
                conn,
                outbox,
                dataset=dataset,
                config=config,
                is_global=is_global,
                requested_by=requested_by,
                reader_checked=reader_checked,
            )
    await outbox.add(
        conn, IndexRequested(source_id=row["id"], dataset=dataset, config=config, requested_by=requested_by)
    )
    return row


async def re_request(conn: asyncpg.Connection, outbox: Outbox, row: asyncpg.Record, *, requested_by: str) -> None:
    """Ask again for a source that exists (a repo appeared or changed)."""
    await store.mark_requested(conn, row["id"])
    await outbox.add(
        conn,
        IndexRequested(source_id=row["id"], dataset=row["dataset"], config=row["config"], requested_by=requested_by),
    )


async def cancel_index(conn: asyncpg.Connection, outbox: Outbox, row: asyncpg.Record, *, by: str) -> None:
    """The source's run was cancelled: it ends failed, saying so (IndexFailed), in the caller's transaction."""
    reason = f"indexing was cancelled by {by}"
    await store.mark_failed(conn, row["id"], reason, "Cancelled")
    await outbox.add(
        conn, IndexFailed(source_id=row["id"], dataset=row["dataset"], error=reason, error_code="Cancelled")
    )


def source_json(row: asyncpg.Record, catalog_url: str) -> dict[str, Any]:
    """A source in Nia's data-source record shape."""
    dataset: str = row["dataset"]
    owner, _, name = dataset.rpartition("/")
    return {
        "id": str(row["id"]),
        "dataset_id": name,
        "url": f"{catalog_url.rstrip('/')}/datasets/{dataset}",
        "status": row["status"],
        "created_at": iso_utc(row["created_at"]),
        "updated_at": iso_utc(row["updated_at"]),
        "owner": owner or None,
        "config": row["config"],
        "description": row["description"],
        "license": row["license"],
        "splits": row["splits"],
        "columns": [{"name": c["name"], "dtype": c["dtype"]} for c in row["columns"]],
        "row_count": row["row_count"],
        "indexed_row_count": row["indexed_row_count"],
        "chunk_count": row["chunk_count"],
        "sampling_strategy": row["sampling_strategy"],
        "is_global": row["is_global"],
        "source_type": "huggingface_dataset",
        "display_name": dataset,
        "error": row["error"],
        "error_code": row["error_code"],
        # Beyond Nia's record (which its clients ignore): how far the live run has come, and semantic search.
        "progress": _progress(row),
        "vector_status": row["vector_status"] if row["vector_index"] == row["index_name"] else None,
        "embedded_chunk_count": row["embedded_chunk_count"] if row["vector_index"] == row["index_name"] else 0,
    }


def _progress(row: asyncpg.Record) -> dict[str, Any] | None:
    state = row.get("run_state")
    if state is None:
        return None
    units, done = row["run_units"], row["run_units_done"]
    return {
        "stage": "queued" if state == "queued" else ("planning" if units is None else "indexing"),
        "percent": round(100 * done / units, 1) if units else 0.0,
        "rows_done": row["run_rows_done"],
        "rows_to_index": row["run_rows_to_index"],
        "started_at": iso_utc(row["run_started_at"]),
    }


def unified_source_json(row: asyncpg.Record, catalog_url: str) -> dict[str, Any]:
    """A source in Nia's unified `Source` shape (`GET /v2/sources`)."""
    record = source_json(row, catalog_url)
    return {
        "id": record["id"],
        "type": "huggingface_dataset",
        "identifier": row["dataset"],
        "display_name": row["dataset"],
        "status": record["status"],
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "category_id": None,
        "is_global": row["is_global"],
        "global_source_id": record["id"] if row["is_global"] else None,
        "global_namespace": None,
        "metadata": {
            k: record[k]
            for k in (
                "dataset_id",
                "owner",
                "url",
                "config",
                "splits",
                "columns",
                "row_count",
                "indexed_row_count",
                "chunk_count",
                "sampling_strategy",
                "license",
                "description",
                "error",
                "error_code",
                "vector_status",
                "embedded_chunk_count",
            )
        },
    }
