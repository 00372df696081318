"""A steady stream of writes on each service's write route, every answer recorded.

Each write names a fresh aggregate (a new repo, a new source, a new versioned dataset), so the event
it must cause is told apart from every other one by its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from contracts.catalog import RepoCreated, repo_key
from contracts.ingest import IndexRequested
from contracts.topics import CATALOG_REPOS, INGEST_REQUESTS, VERSIONING_VERSIONS
from contracts.versioning import DatasetVersionCreated

REQUEST_TIMEOUT = 10.0
MAX_IN_FLIGHT = 200


@dataclass
class Answer:
    service: str
    # For versioning, `name` is also the dataset path's last part and in the commit message (the ledger
    # verify.py checks stored versions against).
    phase: str
    sent_at: float
    status: int | None  # None: no answer (connection refused, timed out)
    error_code: str | None
    key: str | None  # the aggregate the write is about: known before sending, or from the answer
    answered_at: float = 0.0
    name: str = ""  # what the write was called (the n-th write of its route in this run)

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class WriteRoute:
    """One service's write: how to send the n-th one, and the event an accepted one must cause."""

    service: str
    topic: str  # the contract topic name (before any prefix)
    event_type: str
    send: Callable[[aiohttp.ClientSession, str, str, str], Awaitable[tuple[int, str | None, str | None]]]


async def _create_repo(
    session: aiohttp.ClientSession, url: str, token: str, name: str
) -> tuple[int, str | None, str | None]:
    async with session.post(
        f"{url}/api/repos/create",
        json={"name": name, "type": "dataset"},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        await response.read()
        return response.status, repo_key("dataset", f"admin/{name}"), response.headers.get("X-Error-Code")


async def _request_index(
    session: aiohttp.ClientSession, url: str, token: str, name: str
) -> tuple[int, str | None, str | None]:
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


async def _upsert_version(
    session: aiohttp.ClientSession, url: str, token: str, name: str
) -> tuple[int, str | None, str | None]:
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


ROUTES = (
    WriteRoute("catalog", CATALOG_REPOS.name, RepoCreated.event_type, _create_repo),
    WriteRoute("ingest", INGEST_REQUESTS.name, IndexRequested.event_type, _request_index),
    WriteRoute("versioning", VERSIONING_VERSIONS.name, DatasetVersionCreated.event_type, _upsert_version),
)


@dataclass
class Load:
    """Writes at `rate` per second per route until stopped; `phase` labels what is sent meanwhile."""

    urls: dict[str, str]
    token: str
    rate: float
    run_id: str
    phase: str = "warmup"
    answers: list[Answer] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._stream(session, route) for route in ROUTES))
            if self._in_flight:
                await asyncio.wait(self._in_flight)

    async def _stream(self, session: aiohttp.ClientSession, route: WriteRoute) -> None:
        started = time.monotonic()
        n = 0
        while not self._stopping.is_set():
            n += 1
            if len(self._in_flight) < MAX_IN_FLIGHT:
                task = asyncio.create_task(self._one(session, route, f"fb-{self.run_id}-{route.service}-{n}"))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            delay = started + n / self.rate - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def _one(self, session: aiohttp.ClientSession, route: WriteRoute, name: str) -> None:
        answer = Answer(route.service, self.phase, time.monotonic(), None, None, None, name=name)
        try:
            answer.status, answer.key, answer.error_code = await route.send(
                session, self.urls[route.service], self.token, name
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            answer.error_code = type(exc).__name__
        answer.answered_at = time.monotonic()
        self.answers.append(answer)

    def stop(self) -> None:
        self._stopping.set()
