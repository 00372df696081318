"""The JSON bodies the ingest views answer, in Nia's data-source record shape (for the OpenAPI document).

`sources.source_json` builds them as plain dicts; the schemathesis run
(tests/services/test_fuzz.py) checks every answer against these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class SourceColumn(BaseModel):
    name: str
    dtype: str = Field(description='e.g. "string", "int64".')


class SourceProgress(BaseModel):
    stage: Literal["queued", "planning", "indexing"]
    percent: float = Field(description="Row groups done, in percent of the run's row groups.")
    rows_done: int
    rows_to_index: int | None = Field(description="Rows the run indexes (after sampling); null until planned.")
    started_at: str | None


class Source(BaseModel):
    """One data source: a catalog dataset (and config) and where its indexing stands."""

    id: str = Field(description="The source id (a UUID).")
    dataset_id: str = Field(description="The dataset's name, without its owner.")
    url: str = Field(description="The dataset's URL on the catalog.")
    status: Literal["pending", "processing", "completed", "failed", "error"]
    created_at: str | None = Field(description="ISO 8601, UTC.")
    updated_at: str | None = Field(description="ISO 8601, UTC.")
    owner: str | None
    config: str | None
    description: str | None
    license: str | None
    splits: list[str]
    columns: list[SourceColumn]
    row_count: int
    indexed_row_count: int = Field(description="Rows actually indexed (fewer than row_count when sampled).")
    chunk_count: int
    sampling_strategy: Literal["full", "sampled"] | None = Field(description="null until known.")
    is_global: bool
    source_type: Literal["huggingface_dataset"]
    display_name: str
    error: str | None = Field(description="Why indexing failed, when it did.")
    error_code: str | None = Field(description='A stable code when it failed, e.g. "DatasetNotFound".')
    progress: SourceProgress | None = Field(
        description="Beyond Nia's record: how far the live index run has come; null when none runs."
    )
    vector_status: Literal["queued", "embedding", "completed", "failed"] | None = Field(
        description="Beyond Nia's record: semantic search. null: keyword search only (the `semantic` extra is "
        "not installed, or the current index is not queued for embedding); completed: hybrid search."
    )
    embedded_chunk_count: int = Field(description="Chunks of the current index embedded so far.")


class Pagination(BaseModel):
    total: int
    limit: int
    offset: int
    has_more: bool


class UnifiedSource(BaseModel):
    """A source in Nia's unified `Source` shape (`/v2/sources`)."""

    id: str
    type: Literal["huggingface_dataset"]
    identifier: str
    display_name: str
    status: Literal["pending", "processing", "completed", "failed", "error"]
    created_at: str | None
    updated_at: str | None
    category_id: str | None
    is_global: bool
    global_source_id: str | None
    global_namespace: str | None
    metadata: dict[str, Any] = Field(description="dataset_id, owner, url, config, splits, columns, row counts...")


class SourcePage(BaseModel):
    pagination: Pagination
    items: list[UnifiedSource]


class Deleted(BaseModel):
    success: bool
    id: str
    status: Literal["deleted"]


class ReadMetadata(BaseModel):
    url: str
    source_id: str
    chunks_found: int
    title: str


class ReadAnswer(BaseModel):
    """Rows of a split: line n is row n - 1."""

    success: bool
    path: str
    url: str
    content: str
    total_lines: int
    returned_lines: list[int]
    truncated: bool
    split: str
    row_index: int
    chunks_returned: int
    source_type: Literal["huggingface_dataset"]
    metadata: ReadMetadata


class GrepMatch(BaseModel):
    path: str
    split: str
    row_index: int
    chunk_index: int
    line: str
    line_number: int
    context: list[str]
    context_start_line: int


class GrepOptionsEcho(BaseModel):
    case_sensitive: bool
    whole_word: bool
    lines_before: int
    lines_after: int
    output_mode: str


class GrepAnswer(BaseModel):
    success: bool
    source_type: Literal["huggingface_dataset"]
    matches: list[GrepMatch]
    files: list[str]
    counts: dict[str, int]
    total_matches: int
    files_searched: int
    files_with_matches: int
    truncated: bool
    pattern: str
    path_filter: str
    options: GrepOptionsEcho


class SearchHit(BaseModel):
    content: str
    score: float
    source_id: str
    dataset: str
    split: str
    row_index: int
    chunk_index: int
    url: str
    source_type: Literal["huggingface_dataset"]


class QueryAnswer(BaseModel):
    content: str = Field(description="The hits as text (no language model writes an answer here).")
    sources: list[SearchHit]
    source_paths: list[str] = Field(description='"owner/name/split/row" of each hit.')
    search_mode: Literal["keyword"]


class UniversalSource(BaseModel):
    type: Literal["huggingface_dataset"]
    url: str
    namespace: str
    file_path: str
    display_name: str


class UniversalResult(BaseModel):
    content: str
    summary: str | None
    score: float
    confidence: float | None
    source: UniversalSource
    split: str
    row_index: int


class UniversalAnswer(BaseModel):
    results: list[UniversalResult]
    sources_searched: int
    query_time_ms: int
    errors: list[str] | None
    answer: str | None
    search_mode: Literal["keyword"]
