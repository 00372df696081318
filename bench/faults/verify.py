"""After the run: what reached the topics, and what is still not done."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError

from bench.faults.load import Answer, WriteRoute
from services.runtime.kafka import topic_partitions

TERMINAL_SOURCE_STATES = frozenset({"completed", "failed", "error"})


async def caused_events(bootstrap: str, route: WriteRoute) -> dict[str, list[dict[str, Any]]]:
    """The events of the route's type on its topic, by the write each answers (`route.key_of`): their data.

    Read from the topic's start to its current end, committed only: with a transactional relay, what an
    aborted transaction wrote was never published.
    """
    consumer = AIOKafkaConsumer(
        route.topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    caused: dict[str, list[dict[str, Any]]] = {}

    def collect(batches: dict[TopicPartition, list]) -> None:
        for records in batches.values():
            for record in records:
                envelope = orjson.loads(record.value)
                if envelope.get("type") == route.event_type and (key := route.key_of(record.key, envelope)):
                    caused.setdefault(key, []).append(envelope.get("data") or {})

    try:
        # Without a group, subscribing assigns every partition of the topic once metadata arrives.
        while not consumer.assignment():
            collect(await consumer.getmany(timeout_ms=200))
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            collect(await consumer.getmany(timeout_ms=500, max_records=5000))
    finally:
        await consumer.stop()
    return caused


async def unsettled_sources(url: str, token: str, ids: list[str], timeout: float) -> list[str]:
    """Sources still pending or processing once `timeout` seconds have passed (polled until then)."""
    left = set(ids)
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        while left and time.monotonic() < deadline:
            for source_id in list(left):
                try:
                    async with session.get(f"{url}/v2/data-sources/{source_id}") as response:
                        if response.status == 200:
                            body = await response.json()
                            if body.get("status") in TERMINAL_SOURCE_STATES:
                                left.discard(source_id)
                except aiohttp.ClientError:
                    pass
            if left:
                await asyncio.sleep(1.0)
    return sorted(left)


@dataclass(frozen=True)
class VersionLedger:
    """Accepted versioning writes checked against what the service stores, by dataset id."""

    missing: frozenset[str]  # no such dataset, or no version in it: the accepted write was lost
    doubled: frozenset[str]  # more than one version: the write was applied twice
    wrong: frozenset[str]  # one version, but not committed with the write's commit message


async def check_versions(url: str, token: str, accepted: dict[str, str], timeout: float) -> VersionLedger:
    """Each accepted write (dataset id -> the commit message it sent) against the dataset's stored versions."""
    missing, doubled, wrong = set(), set(), set()
    async with aiohttp.ClientSession(
        headers={"X-API-KEY": token}, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        for dataset_id, message in accepted.items():
            async with session.get(f"{url}/v5/datasets/{dataset_id}/versions") as response:
                body = await response.json(content_type=None) if response.status == 200 else {}
            versions = body.get("records", [])
            if not versions:
                missing.add(dataset_id)
            elif len(versions) > 1:
                doubled.add(dataset_id)
            elif versions[0].get("status") != "committed" or versions[0].get("commit_message") != message:
                wrong.add(dataset_id)
    return VersionLedger(frozenset(missing), frozenset(doubled), frozenset(wrong))


def accepted_keys(answers: list[Answer]) -> list[str]:
    return [a.key for a in answers if a.accepted and a.key]


def refused_keys(answers: list[Answer]) -> list[str]:
    """Keys of writes that were refused outright: their events must never appear."""
    return [a.key for a in answers if a.status is not None and not a.accepted and a.key]


class Arrivals:
    """Follows the write routes' topics for the whole run: when the first event caused by each write arrived."""

    def __init__(self, bootstrap: str, routes: Sequence[WriteRoute]) -> None:
        self.bootstrap = bootstrap
        self.routes: dict[str, list[WriteRoute]] = {}  # topic -> the routes whose events go there
        for route in routes:
            self.routes.setdefault(route.topic, []).append(route)
        self.first_seen: dict[tuple[str, str], float] = {}  # (route's service, key) -> when
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.routes,
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            while not self._stopping.is_set():
                for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                    for record in records:
                        envelope = orjson.loads(record.value)
                        for route in self.routes[tp.topic]:
                            if envelope.get("type") == route.event_type and (key := route.key_of(record.key, envelope)):
                                self.first_seen.setdefault((route.service, key), time.monotonic())
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stopping.set()


async def handled_marks(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """Per partition of `topics` that holds committed records: one past the last of them now.

    That is what a group that has handled everything so far has committed. It is not the partition's end:
    the relays publish in Kafka transactions, so a transaction marker follows the last records, and after a
    crash an aborted transaction may follow them too; a consumer is handed neither, so it never commits past
    them until more records come. Read backwards from the ends, in growing windows, all partitions at once:
    the time this takes is added to the time to recover.
    """
    partitions = [TopicPartition(t, p) for t in topics for p in await topic_partitions(bootstrap, t)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    await consumer.start()
    marks: dict[TopicPartition, int] = {}
    try:
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        ranges = {tp: (starts[tp], ends[tp]) for tp in partitions if ends[tp] > starts[tp]}  # [start, high)
        window = 64
        while ranges:
            lows = {tp: max(start, high - window) for tp, (start, high) in ranges.items()}
            for tp, low in lows.items():
                consumer.seek(tp, low)
            last: dict[TopicPartition, int] = {}
            # Until every position passes its `high`: markers and aborted records take offsets, but are never
            # returned.
            while [tp for tp, (_, high) in ranges.items() if await consumer.position(tp) < high]:
                for tp, records in (await consumer.getmany(*ranges, timeout_ms=200)).items():
                    below = [r.offset for r in records if r.offset < ranges[tp][1]]
                    if below:
                        last[tp] = max(below[-1], last.get(tp, -1))
            marks.update({tp: offset + 1 for tp, offset in last.items()})
            # Where the window held no committed record, look further back.
            ranges = {tp: (start, lows[tp]) for tp, (start, _) in ranges.items() if tp not in last and lows[tp] > start}
            window *= 4
    finally:
        await consumer.stop()
    return marks


async def groups_behind(
    admin: AIOKafkaAdminClient, groups: dict[str, str], marks: dict[TopicPartition, int]
) -> list[str]:
    """The groups (id -> topic) that have not yet committed through every record below `marks` (handled_marks)."""
    behind = []
    for group, topic in groups.items():
        mine = [tp for tp in marks if tp.topic == topic]
        try:
            offsets = await admin.list_consumer_group_offsets(group, partitions=mine)
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            # The broker is still starting (or has not yet made its offsets topic): nothing to show yet.
            behind.append(group)
            continue
        for tp in mine:
            meta = offsets.get(tp)
            if meta is None or meta.offset < marks[tp]:
                behind.append(group)
                break
    return behind
