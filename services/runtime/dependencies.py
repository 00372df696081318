"""Which failures mean "a dependency is down" rather than "this request went wrong".

PostgreSQL restarting or Kafka unreachable is not an internal error: the HTTP
layer answers 503 with `Retry-After` (clients and gateways retry that, and
alert on 500s) and counts it by dependency. `unavailable_dependency` is the
one classifier; the error middleware and the metrics scrape use it.
"""

from __future__ import annotations

from typing import Literal

import asyncpg
from aiokafka import errors as kafka_errors

from services.runtime.db import DatabaseUnavailable
from services.runtime.kafka import BrokerUnavailable

Dependency = Literal["database", "broker"]

# A connection that could not be made, or that died under a query: the server is gone, restarting,
# shutting down or out of connection slots. Not included: errors of a statement on a healthy server.
_DATABASE_DOWN: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,  # the pool could not hand out a connection in time (see db.BoundedPool)
    asyncpg.PostgresConnectionError,  # class 08, includes ConnectionDoesNotExistError (lost mid-query)
    asyncpg.exceptions.AdminShutdownError,  # 57P01: pg_ctl stop -m fast, pg_terminate_backend
    asyncpg.exceptions.CrashShutdownError,  # 57P02: another backend crashed, or -m immediate
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.exceptions.TooManyConnectionsError,  # 53300
)
# asyncpg raises a plain InterfaceError for a closed connection or pool; other InterfaceErrors
# (DataError among them) are about the statement, so only these messages count.
_CLOSED_MARKERS = ("connection is closed", "pool is closing", "underlying connection is closed")

_BROKER_DOWN: tuple[type[BaseException], ...] = (
    BrokerUnavailable,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.NotEnoughReplicasError,
    kafka_errors.LeaderNotAvailableError,
)


def unavailable_dependency(exc: BaseException) -> Dependency | None:
    """The dependency whose unavailability `exc` shows (looking through its causes), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DATABASE_DOWN):
            return "database"
        if isinstance(current, asyncpg.InterfaceError) and any(m in str(current) for m in _CLOSED_MARKERS):
            return "database"
        if isinstance(current, _BROKER_DOWN):
            return "broker"
        current = current.__cause__
    return None
