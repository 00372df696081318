"""What a service's consumers are built from, in an API process or a worker process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from aiokafka import AIOKafkaProducer

from services.runtime.consumer import EventConsumer
from services.runtime.outbox import Outbox
from services.runtime.settings import ServiceConfig


@dataclass(frozen=True)
class Deps:
    config: ServiceConfig
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    outbox: Outbox

    def consumer(self, group: str, **options: float) -> EventConsumer:
        """A consumer-group member wired to this service's database, producer and topic prefix."""
        return EventConsumer(
            group=group,
            bootstrap=self.config.infra.kafka,
            pool=self.pool,
            producer=self.producer,
            topic_prefix=self.config.infra.topic_prefix,
            instance=self.config.infra.instance,
            **options,  # type: ignore[arg-type]
        )


class Background(Protocol):
    """What a process supervises: a consumer, or another loop such as ingest's run executor."""

    group: str

    async def run(self, stopping: asyncio.Event) -> None: ...


# Opens a service's consumers (and other background loops) as an async context, so they can hold
# resources such as an HTTP session.
ConsumerFactory = Callable[[Deps], AbstractAsyncContextManager[list[Background]]]
