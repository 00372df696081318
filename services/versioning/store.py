"""All of the versioning service's SQL."""

from __future__ import annotations

import asyncpg


async def upsert_catalog_dataset(conn: asyncpg.Connection, repo_id: str, *, private: bool, author: str) -> None:
    await conn.execute(
        """INSERT INTO catalog_datasets (repo_id, private, author) VALUES ($1, $2, $3)
           ON CONFLICT (repo_id) DO UPDATE SET private = EXCLUDED.private, author = EXCLUDED.author""",
        repo_id,
        private,
        author,
    )


async def delete_catalog_dataset(conn: asyncpg.Connection, repo_id: str) -> None:
    await conn.execute("DELETE FROM catalog_datasets WHERE repo_id = $1", repo_id)
