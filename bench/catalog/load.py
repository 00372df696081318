"""Synthetic repos: ids from a vocabulary (so `search` has realistic hits), tags from common to rare, loaded
with COPY through the catalog store in batches, with progress."""

from __future__ import annotations

import random
import secrets
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.running import say
from services.catalog import store_listing

_WORD_TEXT = (
    "bert gpt llama mistral vision audio tiny base large small distil roberta t5 whisper clip vit resnet "
    "sentiment ner qa chat instruct code math finance legal medical news reviews tweets wiki books poems "
    "summarize translate embed rerank detect segment caption speech music video depth pose ocr table graph "
    "multilingual english french german spanish chinese japanese arabic hindi lora gguf awq quant merged"
)
WORDS = tuple(_WORD_TEXT.split())
SEARCH_WORDS = ("llama", "vision", "tweets", "rerank")  # each is one of WORDS: ~2/len(WORDS) of ids
# Common to rare: repo i carries TAGS[k] when i % TAG_EVERY[k] == 0 (a deterministic spread).
TAGS = ("pytorch", "license:mit", "en", "text-classification", "gguf", "language:ja", "license:cc0-1.0")
TAG_EVERY = (2, 5, 7, 11, 53, 211, 997)
FILTER_TAGS = ("license:mit", "text-classification", "language:ja", "license:cc0-1.0")
AUTHORS = 20_000
BIG_ORG, BIG_ORG_EVERY = "zoo-org", 20  # one org holds every 20th repo (5 %), and sorts after every user
# Authors listed by the bench: first, near the middle and last of the users in id order, and the big org.
LISTED_AUTHORS = ("user0", "user10000", "user9999", BIG_ORG)
BATCH = 50_000
START = datetime(2023, 1, 1, tzinfo=UTC)


def repo_row(i: int, rng: random.Random) -> tuple[object, ...]:
    name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}"
    created = START + timedelta(seconds=rng.randrange(3 * 365 * 86400))
    modified = created + timedelta(seconds=rng.randrange(86400 * 30))
    tags = [tag for tag, every in zip(TAGS, TAG_EVERY, strict=True) if i % every == 0]
    likes = int(rng.paretovariate(1.2)) - 1
    private = i % 100 == 42  # 1 %: listed to nobody here (the benchmark's requests are anonymous)
    author = BIG_ORG if i % BIG_ORG_EVERY == 7 else f"user{i % AUTHORS}"
    return (secrets.token_hex(12), "model", author, name, private, author, created, modified, tags, likes,
            likes * 10)  # fmt: skip


async def load_repos(pool: asyncpg.Pool, count: int, seed: int) -> float:
    """Create the authors and `count` repos; return the seconds the repos took (COPY, indexes, ANALYZE).

    The listing indexes are dropped for the COPY and built again from their own definitions afterwards, as one
    does for a bulk load: the result is the schema the migrations made, sooner."""
    rng = random.Random(seed)
    async with pool.acquire() as conn, conn.transaction():
        await store_listing.copy_users(conn, [f"user{a}" for a in range(min(AUTHORS, count))] + [BIG_ORG])
    started = time.perf_counter()
    async with pool.acquire() as conn:
        indexes = await store_listing.drop_secondary_indexes(conn)
    done = 0
    while done < count:
        rows = [repo_row(i, rng) for i in range(done, min(count, done + BATCH))]
        async with pool.acquire() as conn, conn.transaction():
            await store_listing.copy_repos(conn, rows)
        done += len(rows)
        elapsed = time.perf_counter() - started
        say(f"loaded {done:,}/{count:,} repos ({done / elapsed:,.0f}/s)")
    say(f"building the {len(indexes)} listing indexes")
    async with pool.acquire() as conn:
        await store_listing.create_indexes(conn, indexes)
    await store_listing.vacuum_analyze_repos(pool)  # as autovacuum would, soon after a bulk load
    return time.perf_counter() - started
