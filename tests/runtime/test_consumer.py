"""The consumer settles every record once: handled, duplicate, skipped or dead-lettered, and moves on.

One behaviour suite, run on the in-memory broker and on real Kafka (FastStream's
pattern): the memory run pins the logic fast, the Kafka run proves the wiring.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from itertools import pairwise

import asyncpg
import orjson
import pytest
import pytest_asyncio
from aiokafka.structs import ConsumerRecord, TopicPartition

from contracts import encode, wrap
from contracts.ingest import IndexRequested
from contracts.topics import INGEST_REQUESTS
from services.runtime.consumer import INFRASTRUCTURE_ERRORS, EventConsumer, PermanentError, Received
from services.runtime.kafka import producer_context
from services.runtime.replay import replay
from services.runtime.resources import BackgroundTasks
from services.runtime.settings import InfraSettings
from tests.conftest import wait_until
from tests.runtime.conftest import Transport, stored_effects


class Harness:
    """A consumer running in the background, and ways to feed it and watch it."""

    def __init__(self, consumer: EventConsumer, transport: Transport, pool: asyncpg.Pool):
        self.consumer = consumer
        self.transport = transport
        self.topic = transport.prefix + INGEST_REQUESTS.name
        self.pool = pool

    async def send_event(self, event: IndexRequested, *, event_id: str | None = None) -> None:
        envelope = wrap(event, source="/test", event_id=event_id)
        await self.transport.producer.send_and_wait(self.topic, encode(envelope), key=event.key().encode())

    async def send_raw(
        self, value: bytes, key: bytes = b"k", headers: list[tuple[str, bytes]] | None = None
    ) -> ConsumerRecord:
        """Publish a record as it is; its metadata (partition, offset)."""
        return await self.transport.producer.send_and_wait(self.topic, value, key=key, headers=headers)  # type: ignore[no-any-return]

    async def dead_letters(self, expect: int) -> list[ConsumerRecord]:
        return await self.transport.read(self.topic + ".dlq", expect)

    async def effects(self) -> list[str]:
        return await stored_effects(self.pool)


def make_consumer(
    transport: Transport, pool: asyncpg.Pool, group: str | None = None, **options: float
) -> EventConsumer:
    return EventConsumer(
        group=group or f"test-{uuid.uuid4().hex[:8]}",
        bootstrap=transport.bootstrap,
        pool=pool,
        producer=transport.producer,
        topic_prefix=transport.prefix,
        source_factory=transport.source_factory,
        **options,  # type: ignore[arg-type]
    )


@pytest_asyncio.fixture
async def harness(pool: asyncpg.Pool, transport: Transport) -> AsyncIterator[Harness]:
    consumer = make_consumer(transport, pool, max_attempts=3, backoff_base=0.05)

    async def record(message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        if message.data.dataset.startswith("fail/"):
            raise RuntimeError(f"cannot handle {message.data.dataset}")
        if message.data.dataset.startswith("permanent/"):
            raise PermanentError("this can never work")
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)

    consumer.on(IndexRequested, record)
    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    await asyncio.wait_for(consumer.ready.wait(), 20)
    yield Harness(consumer, transport, pool)
    stopping.set()
    await asyncio.wait_for(task, 20)


def event(dataset: str) -> IndexRequested:
    return IndexRequested(source_id=uuid.uuid4(), dataset=dataset)


async def test_a_redelivered_event_has_its_effect_once(harness: Harness) -> None:
    once = event("owner/once")
    await harness.send_event(once, event_id="same-id")
    await harness.send_event(once, event_id="same-id")  # redelivery: same source and id
    await harness.send_event(event("owner/after"))
    await wait_until(settled(harness.consumer, 3))
    assert await harness.effects() == ["owner/after", "owner/once"]
    assert harness.consumer.stats.duplicates == 1


def settled(consumer: EventConsumer, n: int) -> Callable[[], Awaitable[bool]]:
    """A predicate for `wait_until`: the consumer has settled at least `n` records, whatever the outcome."""

    async def check() -> bool:
        s = consumer.stats
        return s.handled + s.duplicates + s.dead_lettered + s.skipped >= n

    return check


async def run_until_settled(consumer: EventConsumer, n: int) -> None:
    """Run `consumer` until it has settled `n` records, then stop it as a shutdown would."""
    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    await wait_until(settled(consumer, n))
    stopping.set()
    await asyncio.wait_for(task, 20)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a CloudEvents object"),
        (orjson.dumps({"specversion": "1.0", "id": "x"}), "not a CloudEvents 1.0 envelope"),
        (
            orjson.dumps(
                {
                    "specversion": "1.0",
                    "id": "x",
                    "source": "/test",
                    "type": IndexRequested.event_type,
                    "data": {"source_id": "not-a-uuid", "dataset": "owner/x"},
                }
            ),
            "does not match the contract",
        ),
    ],
    ids=["bad-json", "json-array", "not-an-envelope", "payload-breaks-contract"],
)
async def test_a_poison_message_goes_to_the_dlq_and_the_next_one_is_handled(
    harness: Harness, value: bytes, reason: str
) -> None:
    await harness.send_raw(value, key=b"poison")
    await harness.send_event(event("owner/next"))
    await wait_until(settled(harness.consumer, 2))
    assert await harness.effects() == ["owner/next"]

    [letter] = await harness.dead_letters(expect=1)
    headers = {k: v.decode() for k, v in letter.headers}
    assert letter.value == value
    assert letter.key == b"poison"
    assert headers["dlq.original.topic"] == harness.topic
    assert headers["dlq.consumer.group"] == harness.consumer.group
    assert headers["dlq.error.kind"] == "contract"
    assert reason in headers["dlq.error.message"]
    assert headers["dlq.attempts"] == "0"


async def test_a_failing_handler_is_retried_then_dead_lettered_and_the_consumer_carries_on(
    harness: Harness,
) -> None:
    await harness.send_event(event("fail/always"))
    await harness.send_event(event("permanent/never"))
    await harness.send_event(event("owner/fine"))
    await wait_until(settled(harness.consumer, 3))
    assert await harness.effects() == ["owner/fine"]
    assert harness.consumer.stats.retries == 2  # 3 attempts for the transient failure, 1 for the permanent one

    letters = await harness.dead_letters(expect=2)
    headers = [{k: v.decode() for k, v in r.headers} for r in letters]
    assert sorted((h["dlq.error.class"], h["dlq.attempts"], h["dlq.error.kind"]) for h in headers) == [
        ("PermanentError", "1", "handler"),
        ("RuntimeError", "3", "handler"),
    ]
    assert any("cannot handle fail/always" in h["dlq.error.message"] for h in headers)
    # Nothing the handler wrote before failing survived: its transaction rolled back, inbox claim included.
    assert await harness.pool.fetchval("SELECT count(*) FROM inbox") == 1


async def test_event_types_nobody_subscribed_to_are_skipped(harness: Harness) -> None:
    other = {
        "specversion": "1.0",
        "id": "e1",
        "source": "/elsewhere",
        "type": "com.example.something.v1",
        "data": {"whatever": True},
    }
    await harness.send_raw(orjson.dumps(other))
    await harness.send_event(event("owner/mine"))
    await wait_until(settled(harness.consumer, 2))
    assert harness.consumer.stats.skipped == 1
    assert await harness.effects() == ["owner/mine"]


async def test_a_restarted_consumer_resumes_after_what_it_committed(pool: asyncpg.Pool, transport: Transport) -> None:
    group = f"test-{uuid.uuid4().hex[:8]}"
    topic = transport.prefix + INGEST_REQUESTS.name

    async def record(message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)

    async def run_until(n: int) -> EventConsumer:
        consumer = make_consumer(transport, pool, group)
        consumer.on(IndexRequested, record)
        await run_until_settled(consumer, n)
        return consumer

    for name in ("a", "b"):
        await transport.producer.send_and_wait(topic, encode(wrap(event(f"owner/{name}"), source="/t")), key=b"k")
    first = await run_until(2)
    await transport.producer.send_and_wait(topic, encode(wrap(event("owner/c"), source="/t")), key=b"k")
    second = await run_until(1)
    assert (first.stats.handled, second.stats.handled, second.stats.duplicates) == (2, 1, 0)
    assert await stored_effects(pool) == [
        "owner/a",
        "owner/b",
        "owner/c",
    ]


async def test_dead_letters_can_be_replayed_once_the_cause_is_fixed(
    pool: asyncpg.Pool, kafka_bootstrap: str, topic_prefix: str
) -> None:
    broken = True

    async def record(message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        if broken:
            raise RuntimeError("the handler has a bug")
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)

    async with producer_context(kafka_bootstrap) as producer:
        consumer = EventConsumer(
            group=f"test-{uuid.uuid4().hex[:8]}",
            bootstrap=kafka_bootstrap,
            pool=pool,
            producer=producer,
            topic_prefix=topic_prefix,
            max_attempts=1,
        )
        consumer.on(IndexRequested, record)
        stopping = asyncio.Event()
        task = asyncio.create_task(consumer.run(stopping))
        topic = topic_prefix + INGEST_REQUESTS.name
        await producer.send_and_wait(topic, encode(wrap(event("owner/late"), source="/t")), key=b"k")

        async def dead_lettered() -> bool:
            return consumer.stats.dead_lettered == 1

        await wait_until(dead_lettered)

        broken = False  # the fix is deployed
        infra = InfraSettings(kafka=kafka_bootstrap, topic_prefix=topic_prefix)
        assert await replay(infra, INGEST_REQUESTS.dlq) == 1
        assert await replay(infra, INGEST_REQUESTS.dlq) == 0  # nothing is replayed twice

        async def handled() -> bool:
            return consumer.stats.handled == 1

        await wait_until(handled)
        stopping.set()
        await asyncio.wait_for(task, 20)
    assert [r["dataset"] for r in await pool.fetch("SELECT dataset FROM effects")] == ["owner/late"]


async def test_records_that_change_nothing_do_not_split_a_batch_into_more_transactions(
    pool: asyncpg.Pool, transport: Transport
) -> None:
    """A skipped type or a poison record between two events leaves them in one transaction (one commit)."""
    topic = transport.prefix + INGEST_REQUESTS.name
    other = {"specversion": "1.0", "id": "o1", "source": "/elsewhere", "type": "com.example.other.v1", "data": {}}
    values = [
        encode(wrap(event("owner/first"), source="/t")),
        orjson.dumps(other),  # nobody here subscribed to it
        encode(wrap(event("owner/second"), source="/t")),
        b"{not json",  # dead-lettered
        encode(wrap(event("owner/third"), source="/t")),
    ]
    for value in values:  # all there before the consumer starts: one poll takes them
        await transport.producer.send_and_wait(topic, value, key=b"same")
    consumer = make_consumer(transport, pool)
    transactions: list[int] = []

    async def record(message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)
        transactions.append(await conn.fetchval("SELECT txid_current()"))

    consumer.on(IndexRequested, record)
    await run_until_settled(consumer, 5)

    stats = consumer.stats
    assert (stats.handled, stats.skipped, stats.dead_lettered) == (3, 1, 1)
    assert await stored_effects(pool) == ["owner/first", "owner/second", "owner/third"]
    assert len(set(transactions)) == 1, f"3 events settled in {len(set(transactions))} transactions"


async def test_the_deployments_topic_prefix_is_on_its_consumer_group_ids_too(
    pool: asyncpg.Pool, transport: Transport
) -> None:
    """Deployments that share a broker, each under its own topic prefix, keep their consumer groups apart too."""
    topic = transport.prefix + INGEST_REQUESTS.name
    sent = await transport.producer.send_and_wait(topic, encode(wrap(event("owner/one"), source="/t")), key=b"k")
    group = f"g-{uuid.uuid4().hex[:8]}"
    consumer = make_consumer(transport, pool, group)

    async def record(message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)

    consumer.on(IndexRequested, record)
    await run_until_settled(consumer, 1)

    tp = TopicPartition(topic, sent.partition)
    assert consumer.group_id == transport.prefix + group
    assert await transport.committed(transport.prefix + group, tp) == sent.offset + 1
    assert await transport.committed(group, tp) == 0  # nothing under the bare name, which another deployment may use
    assert await pool.fetchval("SELECT consumer FROM inbox") == group  # the inbox keeps the deployment's own name


async def test_a_batch_with_a_failure_and_a_duplicate_settles_every_record_once(
    pool: asyncpg.Pool, transport: Transport
) -> None:
    topic = transport.prefix + INGEST_REQUESTS.name
    sent = [event(f"owner/d{i:02}") for i in range(20)]
    sent[7] = event("fail/in-the-middle")
    for i, e in enumerate(sent):
        await transport.producer.send_and_wait(topic, encode(wrap(e, source="/t", event_id=f"id-{i}")), key=b"same")
    await transport.producer.send_and_wait(topic, encode(wrap(sent[3], source="/t", event_id="id-3")), key=b"same")

    consumer = make_consumer(transport, pool, max_attempts=2, backoff_base=0.01)

    async def record(message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)
        if message.data.dataset.startswith("fail/"):
            raise RuntimeError("no")

    consumer.on(IndexRequested, record)
    await run_until_settled(consumer, 21)

    assert (consumer.stats.handled, consumer.stats.duplicates, consumer.stats.dead_lettered) == (19, 1, 1)
    assert await pool.fetchval("SELECT count(*) FROM effects") == 19
    assert await pool.fetchval("SELECT count(DISTINCT dataset) FROM effects") == 19
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 19  # the dead letter is not claimed
    [letter] = await transport.read(topic + ".dlq", 1)
    assert dict(letter.headers)["dlq.attempts"] == b"2"


async def terminate(database_url: str, pid: int) -> None:
    """End a server process the way an operator (or a failover) would: its client sees the connection drop."""
    admin = await asyncpg.connect(database_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


class Victim:
    """A handler that writes its effect, then waits on its connection; the first `kills` calls are killed there."""

    def __init__(self, kills: int = 1) -> None:
        self.kills = kills
        self.waiting: asyncio.Queue[int] = asyncio.Queue()  # server pids of connections to kill
        self.calls = 0

    async def __call__(self, message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        self.calls += 1
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)
        if self.kills > 0:
            self.kills -= 1
            self.waiting.put_nowait(conn.get_server_pid())
            await conn.execute("SELECT pg_sleep(60)")  # the connection dies in here

    async def kill_next(self, database_url: str) -> None:
        await terminate(database_url, await asyncio.wait_for(self.waiting.get(), 20))


@pytest.mark.parametrize("events", [1, 5], ids=["one-event", "a-batch"])
async def test_a_database_connection_lost_mid_handler_stops_the_consumer_uncommitted(
    pool: asyncpg.Pool, transport: Transport, database_url: str, events: int
) -> None:
    topic = transport.prefix + INGEST_REQUESTS.name
    for i in range(events):
        await transport.producer.send_and_wait(topic, encode(wrap(event(f"owner/e{i}"), source="/t")), key=b"k")
    group = f"test-{uuid.uuid4().hex[:8]}"
    handler = Victim()
    first = make_consumer(transport, pool, group, backoff_base=0.01)
    first.on(IndexRequested, handler)
    running = asyncio.create_task(first.run(asyncio.Event()))
    await handler.kill_next(database_url)
    # Not the record's fault: no retry, no dead letter; the consumer stops for its supervisor to restart it.
    with pytest.raises(INFRASTRUCTURE_ERRORS):
        await asyncio.wait_for(running, 20)
    assert (first.stats.retries, first.stats.dead_lettered, first.stats.handled) == (0, 0, 0)
    assert await pool.fetchval("SELECT count(*) FROM effects") == 0  # rolled back with the connection
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 0

    second = make_consumer(transport, pool, group)
    second.on(IndexRequested, handler)
    await run_until_settled(second, events)
    assert second.stats.handled == events
    assert await stored_effects(pool) == sorted(f"owner/e{i}" for i in range(events))  # each exactly once
    assert await transport.read(topic + ".dlq", 0) == []


async def test_a_consumer_that_dies_is_restarted_by_its_supervisor(
    pool: asyncpg.Pool, transport: Transport, database_url: str
) -> None:
    topic = transport.prefix + INGEST_REQUESTS.name
    await transport.producer.send_and_wait(topic, encode(wrap(event("owner/x"), source="/t")), key=b"k")
    handler = Victim(kills=2)  # the database drops it twice in a row: the second restart waits longer
    consumer = make_consumer(transport, pool)
    consumer.on(IndexRequested, handler)
    supervisor = BackgroundTasks({"worker": consumer.run}, restart_delay=0.05)
    async with supervisor:
        await handler.kill_next(database_url)
        await handler.kill_next(database_url)
        await wait_until(settled(consumer, 1))
    assert supervisor.restarts == {"worker": 2}
    assert (handler.calls, consumer.stats.handled, consumer.stats.dead_lettered) == (3, 1, 0)
    assert await stored_effects(pool) == ["owner/x"]


async def test_retries_back_off_exponentially(pool: asyncpg.Pool, transport: Transport) -> None:
    attempts: list[float] = []

    async def failing(message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        attempts.append(time.monotonic())
        raise RuntimeError("still broken")

    base = 0.1
    consumer = make_consumer(transport, pool, max_attempts=4, backoff_base=base, backoff_max=5.0)
    consumer.on(IndexRequested, failing)
    topic = transport.prefix + INGEST_REQUESTS.name
    await transport.producer.send_and_wait(topic, encode(wrap(event("owner/x"), source="/t")), key=b"k")
    await run_until_settled(consumer, 1)

    assert len(attempts) == 4
    gaps = [later - earlier for earlier, later in pairwise(attempts)]
    # The wait after failed attempt n is base * 2**(n-1), with jitter taking off up to half of it.
    for n, gap in enumerate(gaps, start=1):
        assert gap >= base * 2 ** (n - 1) * 0.5, (n, gaps)
    # Growing: the last wait is longer than the first could ever be.
    assert gaps[-1] > base, gaps


ORIGINAL_HEADERS = [
    ("content-type", b"application/cloudevents+json"),
    ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    # From an earlier dead-lettering, replayed since: replaced, not repeated.
    ("dlq.attempts", b"7"),
]
DLQ_HEADERS = {
    "dlq.original.topic",
    "dlq.original.partition",
    "dlq.original.offset",
    "dlq.consumer.group",
    "dlq.error.kind",
    "dlq.error.class",
    "dlq.error.message",
    "dlq.attempts",
    "dlq.failed.at",
}


@pytest.mark.parametrize("kind", ["contract", "handler"])
async def test_a_dead_letter_keeps_the_record_and_says_why_in_every_header(harness: Harness, kind: str) -> None:
    if kind == "contract":
        value, error_class, message, attempts = b"{not json", "ContractError", "not valid JSON", "0"
    else:
        value = encode(wrap(event("fail/always"), source="/test"))
        error_class, message, attempts = "RuntimeError", "cannot handle fail/always", "3"
    await harness.send_raw(encode(wrap(event("owner/before"), source="/test")), key=b"poison")  # offset not 0
    before = datetime.now(UTC)
    sent = await harness.send_raw(value, key=b"poison", headers=ORIGINAL_HEADERS)
    await wait_until(settled(harness.consumer, 2))
    after = datetime.now(UTC)

    [letter] = await harness.dead_letters(expect=1)
    assert (letter.key, letter.value, letter.partition) == (b"poison", value, sent.partition)
    kept = [(k, v) for k, v in letter.headers if not k.startswith("dlq.")]
    assert kept == ORIGINAL_HEADERS[:2]
    names = [k for k, _ in letter.headers if k.startswith("dlq.")]
    assert sorted(names) == sorted(DLQ_HEADERS)  # each once
    dlq = {k: v.decode() for k, v in letter.headers if k.startswith("dlq.")}
    assert sent.offset > 0
    assert dlq["dlq.original.topic"] == harness.topic
    assert dlq["dlq.original.partition"] == str(sent.partition)
    assert dlq["dlq.original.offset"] == str(sent.offset)
    assert dlq["dlq.consumer.group"] == harness.consumer.group
    assert dlq["dlq.error.kind"] == kind
    assert dlq["dlq.error.class"] == error_class
    assert message in dlq["dlq.error.message"]
    assert dlq["dlq.attempts"] == attempts
    failed_at = datetime.fromisoformat(dlq["dlq.failed.at"])
    assert failed_at.utcoffset() is not None
    assert before <= failed_at <= after
