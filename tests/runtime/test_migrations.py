"""Migrations apply once, in order, per schema; an edited applied migration is refused."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from services.runtime import migrations


def write(directory: Path, name: str, sql: str) -> None:
    (directory / "migrations").mkdir(parents=True, exist_ok=True)
    (directory / "migrations" / name).write_text(sql)


async def test_migrations_apply_in_order_once_and_refuse_edits(database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_first.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    write(tmp_path, "002_second.sql", "ALTER TABLE things ADD COLUMN name text;")
    wanted = migrations.service_migrations(tmp_path, "svc", token_copy=True)

    applied = await migrations.migrate(database_url, "svc", wanted)
    assert applied == [
        "runtime/001_outbox_inbox.sql",
        "runtime/002_retention.sql",
        "runtime/003_outbox_published.sql",
        "runtime.token_copy/001_known_tokens.sql",
        "svc/001_first.sql",
        "svc/002_second.sql",
    ]
    assert await migrations.migrate(database_url, "svc", wanted) == []

    conn = await asyncpg.connect(database_url)
    try:
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'svc' AND table_name = 'things'"
        )
        assert {c["column_name"] for c in columns} == {"id", "name"}
        # Another service's schema is untouched by this one's migrations.
        assert await conn.fetchval("SELECT to_regclass('other.outbox')") is None
    finally:
        await conn.close()

    write(tmp_path, "002_second.sql", "ALTER TABLE things ADD COLUMN renamed text;")
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        await migrations.migrate(database_url, "svc", migrations.service_migrations(tmp_path, "svc", token_copy=True))


async def test_a_failing_migration_leaves_nothing_half_applied(database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_ok.sql", "CREATE TABLE a (id int);")
    write(tmp_path, "002_broken.sql", "CREATE TABLE b (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.PostgresError):
        await migrations.migrate(database_url, "svc", migrations.load(tmp_path / "migrations", "svc"))
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('svc.a')") is not None
        assert await conn.fetchval("SELECT to_regclass('svc.b')") is None
        names = [r["name"] for r in await conn.fetch("SELECT name FROM svc.schema_migrations")]
        assert names == ["svc/001_ok.sql"]
    finally:
        await conn.close()
