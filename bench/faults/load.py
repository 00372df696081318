"""A steady stream of writes on each service's write route, every answer recorded.

Each write names a fresh aggregate (a new repo, a new source, a new versioned dataset), so the event
it must cause is told apart from every other one by its key.

Besides the HTTP routes, one route is an event: a DatapointsDeltaRequested published to the deltas topic
with plain aiokafka, as another system would (README, "Events"). "Accepted" there means the broker
acknowledged the record; the versioning worker must then answer it exactly once on the versions topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from contracts import encode, wrap
from contracts.catalog import RepoCreated, repo_key
from contracts.ingest import IndexRequested
from contracts.topics import CATALOG_REPOS, INGEST_REQUESTS, VERSIONING_DELTAS, VERSIONING_VERSIONS
from contracts.versioning import Datapoint, DatapointsDeltaRequested, DatasetVersionCreated
from services.runtime.kafka import producer_context

REQUEST_TIMEOUT = 10.0
MAX_IN_FLIGHT = 200


@dataclass
class Answer:
    service: str
    # For versioning and deltas, `name` is also the dataset path's last part and in the commit message (the
    # ledger verify.py checks stored versions against); a delta's request id too.
    phase: str
    sent_at: float
    status: int | None  # None: no answer (connection refused, timed out)
    error_code: str | None
    key: str | None  # what it is about (an aggregate; a delta's request id): known before sending, or answered
    answered_at: float = 0.0
    name: str = ""  # what the write was called (the n-th write of its route in this run)

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Clients:
    """What the writes are sent with: the stack's APIs, and a producer for the routes that are events."""

    session: aiohttp.ClientSession
    producer: AIOKafkaProducer
    urls: dict[str, str]
    token: str


Sent = tuple[int | None, str | None, str | None]
"""(HTTP status, or 200 for a record the broker acknowledged and None for one it did not; key; error code)."""


def record_key(key: bytes | None, envelope: dict[str, Any]) -> str | None:
    """The aggregate an event is about: its record key."""
    return key.decode() if key is not None else None


def request_id(key: bytes | None, envelope: dict[str, Any]) -> str | None:
    """The delta an answer on the versions topic is about (None for versions made through HTTP)."""
    data = envelope.get("data")
    return data.get("request_id") if isinstance(data, dict) else None


@dataclass(frozen=True)
class WriteRoute:
    """One write: how to send the n-th one, and the event an accepted one must cause."""

    service: str  # the row of the report: the service, or what the write is for a route that is an event
    topic: str  # where the caused event goes: the contract topic name (before any prefix)
    event_type: str
    send: Callable[[Clients, str], Awaitable[Sent]]
    key_of: Callable[[bytes | None, dict[str, Any]], str | None] = record_key
    """Which write a caused event answers: what `send` returned as the key."""
    reads: str | None = None
    """The topic a route that is an event writes to, whose consumers must catch up after a fault too."""


async def _create_repo(clients: Clients, name: str) -> Sent:
    session, url, token = clients.session, clients.urls["catalog"], clients.token
    async with session.post(
        f"{url}/api/repos/create",
        json={"name": name, "type": "dataset"},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        await response.read()
        return response.status, repo_key("dataset", f"admin/{name}"), response.headers.get("X-Error-Code")


async def _request_index(clients: Clients, name: str) -> Sent:
    session, url, token = clients.session, clients.urls["ingest"], clients.token
    # A dataset nobody has: the worker settles it as failed (DatasetNotFound), which is an end state.
    async with session.post(
        f"{url}/v2/huggingface-datasets",
        json={"url": f"nobody/{name}"},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        body = await response.json(content_type=None)
        key = body.get("id") if response.status == 200 and isinstance(body, dict) else None
        return response.status, key, response.headers.get("X-Error-Code")


def commit_message(name: str) -> str:
    """The commit message of the versioning write named `name` (verify.py checks the stored version has it)."""
    return f"fault bench write {name}"


async def _upsert_version(clients: Clients, name: str) -> Sent:
    session, url, token = clients.session, clients.urls["versioning"], clients.token
    # A committed version of a new dataset: its id keys the DatasetVersionCreated the upsert must cause.
    async with session.post(
        f"{url}/v5/datasets",
        json={
            "path": f"faults/{name}",
            "datapoints": [{"inputs": {"question": name}, "target": {"answer": "ok"}}],
            "commit_message": commit_message(name),
        },
        headers={"X-API-KEY": token},
    ) as response:
        body = await response.json(content_type=None)
        key = body.get("id") if response.status == 200 and isinstance(body, dict) else None
        return response.status, key, response.headers.get("X-Error-Code")


async def _publish_delta(clients: Clients, name: str) -> Sent:
    # A delta setting one datapoint in a new dataset, keyed (and identified) by its request id.
    delta = DatapointsDeltaRequested(
        dataset_path=f"faults/{name}",
        action="set",
        datapoints=[Datapoint(inputs={"question": name}, target={"answer": "ok"})],
        commit_message=commit_message(name),
        request_id=name,
    )
    value = encode(wrap(delta, source="/hubstream/bench/faults"))
    try:
        await asyncio.wait_for(
            clients.producer.send_and_wait(VERSIONING_DELTAS.name, value, key=delta.key().encode()), REQUEST_TIMEOUT
        )
    except (KafkaError, TimeoutError) as exc:
        # Not acknowledged: like an HTTP write without an answer, it may still land (the producer retries).
        return None, name, type(exc).__name__
    return 200, name, None


ROUTES = (
    WriteRoute("catalog", CATALOG_REPOS.name, RepoCreated.event_type, _create_repo),
    WriteRoute("ingest", INGEST_REQUESTS.name, IndexRequested.event_type, _request_index),
    WriteRoute("versioning", VERSIONING_VERSIONS.name, DatasetVersionCreated.event_type, _upsert_version),
    WriteRoute(
        "deltas",
        VERSIONING_VERSIONS.name,
        DatasetVersionCreated.event_type,
        _publish_delta,
        key_of=request_id,
        reads=VERSIONING_DELTAS.name,
    ),
)


@dataclass
class Load:
    """Writes at `rate` per second per route until stopped; `phase` labels what is sent meanwhile."""

    urls: dict[str, str]
    token: str
    kafka: str
    rate: float
    run_id: str
    phase: str = "warmup"
    answers: list[Answer] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        # The deltas' producer: idempotent, acks from all replicas, as Kafka's own clients default to now.
        async with aiohttp.ClientSession(timeout=timeout) as session, producer_context(self.kafka) as producer:
            clients = Clients(session, producer, self.urls, self.token)
            await asyncio.gather(*(self._stream(clients, route) for route in ROUTES))
            if self._in_flight:
                await asyncio.wait(self._in_flight)

    async def _stream(self, clients: Clients, route: WriteRoute) -> None:
        started = time.monotonic()
        n = 0
        while not self._stopping.is_set():
            n += 1
            if len(self._in_flight) < MAX_IN_FLIGHT:
                task = asyncio.create_task(self._one(clients, route, f"fb-{self.run_id}-{route.service}-{n}"))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            delay = started + n / self.rate - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def _one(self, clients: Clients, route: WriteRoute, name: str) -> None:
        answer = Answer(route.service, self.phase, time.monotonic(), None, None, None, name=name)
        try:
            answer.status, answer.key, answer.error_code = await route.send(clients, name)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            answer.error_code = type(exc).__name__
        answer.answered_at = time.monotonic()
        self.answers.append(answer)

    def stop(self) -> None:
        self._stopping.set()
