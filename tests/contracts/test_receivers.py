"""The AsyncAPI document's receivers are the consumers the services really run."""

from __future__ import annotations

from typing import Any, cast

import asyncpg

from contracts.receivers import RECEIVERS
from services.registry import SERVICE_NAMES, definition
from services.runtime.consumer import EventConsumer
from services.runtime.deps import Deps
from services.runtime.memory_broker import MemoryBroker
from services.runtime.outbox import Outbox
from services.runtime.settings import ServiceConfig


async def test_documented_receivers_match_the_services_consumers() -> None:
    running: set[tuple[str, frozenset[str]]] = set()
    for name in SERVICE_NAMES:
        service = definition(name)
        # Building consumers touches neither the pool nor the broker; they are used only when run.
        deps = Deps(
            config=ServiceConfig.from_env(name),
            pool=cast(asyncpg.Pool, object()),
            producer=cast(Any, MemoryBroker().producer()),
            outbox=Outbox(schema=name, source=f"/hubstream/{name}"),
        )
        for factory in (service.api_consumers, service.worker_consumers):
            if factory is None:
                continue
            async with factory(deps) as consumers:
                for consumer in consumers:
                    if not isinstance(consumer, EventConsumer):
                        continue  # a background loop of its own (ingest's run executor), not a receiver
                    running.add((consumer.group, frozenset(e.event_type for e in consumer.subscribed)))
    documented = {(r.group, frozenset(e.event_type for e in r.events)) for r in RECEIVERS}
    assert documented == running
