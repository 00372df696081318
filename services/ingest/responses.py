"""The JSON bodies the ingest views answer, in Nia's data-source record shape (for the OpenAPI document).

`sources.source_json` builds them as plain dicts; the schemathesis run
(tests/services/test_fuzz.py) checks every answer against these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SourceColumn(BaseModel):
    name: str
    dtype: str = Field(description='e.g. "string", "int64".')


class Source(BaseModel):
    """One data source: a catalog dataset (and config) and where its indexing stands."""

    id: str = Field(description="The source id (a UUID).")
    dataset_id: str = Field(description="The dataset's name, without its owner.")
    url: str = Field(description="The dataset's URL on the catalog.")
    status: Literal["pending", "processing", "completed", "failed"]
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
