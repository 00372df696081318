"""A consumer process that crashes and is started again under its name takes its partitions back at once.

`hubstream up` names each process (HUBSTREAM_INSTANCE) and its consumers join their groups as static
members under that name. A member that dies without leaving (SIGKILL, a power cut) is otherwise
waited for until its session times out, and its partitions are read by nobody meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from contracts.topics import INGEST_REQUESTS, INGEST_STATUS
from services.runtime.transport import kafka_source

pytestmark = pytest.mark.infra

SESSION_SECONDS = 10  # aiokafka's session.timeout.ms, which a dynamic member's successor waits out

# A group member in a process of its own, which says when it holds partitions and then waits to be killed.
MEMBER = """
import asyncio, sys
from services.runtime.transport import kafka_source

async def main(bootstrap, group, topic, instance):
    source = kafka_source(bootstrap, instance=instance or None)(group, [topic])
    await source.start()
    while not source.assignment():
        await source.getmany(timeout_ms=100, max_records=1)
    print("assigned", flush=True)
    while True:
        await source.getmany(timeout_ms=500, max_records=1)

asyncio.run(main(*sys.argv[1:]))
"""


async def crash_a_member(bootstrap: str, group: str, topic: str, instance: str, log: Path) -> None:
    """Start a member named `instance` in a process of its own, wait until it holds partitions, SIGKILL it."""
    with log.open("wb") as errors:
        crashed = await asyncio.create_subprocess_exec(
            *(sys.executable, "-c", MEMBER, bootstrap, group, topic, instance),
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        try:
            assert crashed.stdout is not None
            line = await asyncio.wait_for(crashed.stdout.readline(), timeout=60)
            assert line.strip() == b"assigned", f"the member did not start; see {log}"
        finally:
            crashed.send_signal(signal.SIGKILL)  # no LeaveGroup: the group still counts it as a member
            await crashed.wait()


async def seconds_to_partitions(bootstrap: str, group: str, topics: list[str], instance: str) -> float:
    """How long a member named `instance` takes, from its start, to hold partitions of every one of `topics`."""
    source = kafka_source(bootstrap, instance=instance)(group, topics)
    started = time.monotonic()
    await source.start()
    try:
        while {tp.topic for tp in source.assignment()} != set(topics):
            await source.getmany(timeout_ms=100, max_records=1)
        return time.monotonic() - started
    finally:
        await source.stop()


async def test_a_member_restarted_under_its_name_after_a_crash_gets_its_partitions_at_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = topic_prefix + INGEST_REQUESTS.name
    group = f"g-{uuid.uuid4().hex[:8]}"
    instance = f"worker.{uuid.uuid4().hex[:8]}"
    await crash_a_member(kafka_bootstrap, group, topic, instance, tmp_path / "member.log")

    took = await seconds_to_partitions(kafka_bootstrap, group, [topic], instance)
    assert took < SESSION_SECONDS / 2, f"the restarted member waited {took:.1f} s for its partitions"


async def test_a_member_back_under_its_name_reading_one_topic_more_gets_that_topic_too(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    # New code that subscribes to one more event type, started within the old member's session: the broker
    # would hand the returning member its old partitions and never those of the new topic.
    old, new = topic_prefix + INGEST_REQUESTS.name, topic_prefix + INGEST_STATUS.name
    group = f"g-{uuid.uuid4().hex[:8]}"
    instance = f"worker.{uuid.uuid4().hex[:8]}"
    await crash_a_member(kafka_bootstrap, group, old, instance, tmp_path / "member.log")

    await asyncio.wait_for(seconds_to_partitions(kafka_bootstrap, group, [old, new], instance), SESSION_SECONDS * 3)
