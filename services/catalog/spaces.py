"""Spaces as hubstream keeps them: a reported runtime (a small state machine), variables, encrypted secrets,
and duplication. hubstream does not run Space apps; the runtime says what was last asked for.

The runtime's state machine (README "Catalog: collections, papers, spaces"):

    RUNNING --pause--> PAUSED --restart--> RUNNING        (restart from RUNNING: RUNNING again)
    request_space_hardware(flavor): the requested hardware; also the current one while RUNNING
    set_space_sleep_time(s): gcTimeout (default: 48 h on cpu-basic, none on upgraded hardware)

A new space is RUNNING on cpu-basic. Nothing is built or started, so there is no BUILDING or APP_STARTING stage:
a change is in force at once. A static space is always running: it cannot be paused or given hardware (400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from cryptography.fernet import Fernet

from services.catalog import store, store_spaces
from services.catalog.errors import catalog_error
from services.catalog.names import name_problem
from services.catalog.repos import can_read, can_write_namespace
from services.runtime.auth import Principal

# The client's SpaceHardware values: what request_space_hardware may ask for.
HARDWARE = (
    "cpu-basic",
    "cpu-upgrade",
    "zero-a10g",
    "t4-small",
    "t4-medium",
    "l4x1",
    "l4x4",
    "l40sx1",
    "l40sx4",
    "l40sx8",
    "a10g-small",
    "a10g-large",
    "a10g-largex2",
    "a10g-largex4",
    "a100-large",
    "a100x4",
    "a100x8",
    "rtx-pro-6000",
    "rtx-pro-6000x2",
    "rtx-pro-6000x4",
    "rtx-pro-6000x8",
)
FREE_HARDWARE = "cpu-basic"
FREE_SLEEP_SECONDS = 48 * 3600  # the Hub's fixed sleep time of free hardware
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")  # an environment variable's name
MAX_VALUE = 64 * 1024
MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class Runtime:
    stage: str = "RUNNING"
    hardware: str = FREE_HARDWARE
    sleep_time: int | None = None

    @classmethod
    def of(cls, row: asyncpg.Record | None) -> Runtime:
        if row is None:
            return cls()
        return cls(row["stage"], row["hardware_requested"], row["sleep_time"])

    def paused(self) -> Runtime:
        return replace(self, stage="PAUSED")

    def restarted(self) -> Runtime:
        return replace(self, stage="RUNNING")

    def with_hardware(self, flavor: str, sleep_time: int | None) -> Runtime:
        return replace(self, hardware=flavor, sleep_time=self.sleep_time if sleep_time is None else sleep_time)

    def with_sleep_time(self, seconds: int) -> Runtime:
        return replace(self, sleep_time=seconds)

    def json(self) -> dict[str, Any]:
        running = self.stage == "RUNNING"
        sleep = self.sleep_time
        if sleep is None and self.hardware == FREE_HARDWARE:
            sleep = FREE_SLEEP_SECONDS
        return {
            "stage": self.stage,
            "hardware": {"current": self.hardware if running else None, "requested": self.hardware},
            "gcTimeout": sleep,
            "storage": None,
            "devMode": False,
            "replicas": {"current": 1 if running else 0, "requested": 1},
        }


def not_found(namespace: str, name: str) -> Exception:
    return catalog_error(404, "RepoNotFound", f"Repository Not Found: space {namespace}/{name}.")


async def readable_space(
    conn: asyncpg.Connection | asyncpg.Pool, principal: Principal | None, namespace: str, name: str
) -> asyncpg.Record:
    valid = name_problem(namespace, "namespace") is None and name_problem(name, "repo") is None
    row = await store.repo(conn, "space", namespace, name) if valid else None
    if row is None or not await can_read(conn, principal, row):
        raise not_found(namespace, name)
    return row


async def managed_space(conn: asyncpg.Connection, principal: Principal, namespace: str, name: str) -> asyncpg.Record:
    """The space if the caller may manage it (write access to its namespace): 404 if unseen, 403 if read-only."""
    row = await readable_space(conn, principal, namespace, name)
    if not await can_write_namespace(conn, principal, namespace):
        raise catalog_error(403, "Forbidden", f"you ({principal.user}) may not manage space {namespace}/{name}")
    return row


def check_hardware(flavor: str, sdk: str | None) -> None:
    """Refuse hardware this catalog does not know, or any but the free one for a static space (of `sdk`)."""
    if flavor not in HARDWARE:
        raise catalog_error(400, "InvalidParameter", f"unknown hardware {flavor!r}: one of {', '.join(HARDWARE)}")
    if sdk == "static" and flavor != FREE_HARDWARE:
        raise catalog_error(400, "StaticSpace", "a static space runs on cpu-basic: it cannot be given hardware")


def check_sleep_time(seconds: int | None) -> None:
    if seconds is not None and seconds != -1 and seconds < 1:
        raise catalog_error(400, "InvalidParameter", "a sleep time is -1 (never sleep) or a number of seconds")


def check_entry(key: str, value: str | None, description: str | None) -> None:
    if KEY.fullmatch(key) is None:
        raise catalog_error(
            400, "InvalidParameter", f"invalid key {key!r}: letters, digits and _, not starting with a digit"
        )
    if value is not None and len(value) > MAX_VALUE:
        raise catalog_error(400, "InvalidParameter", f"the value of {key} is longer than {MAX_VALUE} characters")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise catalog_error(400, "InvalidParameter", f"the description of {key} is too long")


async def save(conn: asyncpg.Connection, space: asyncpg.Record, runtime: Runtime) -> Runtime:
    await store_spaces.save_runtime(
        conn, space["id"], stage=runtime.stage, hardware=runtime.hardware, sleep_time=runtime.sleep_time
    )
    return runtime


@dataclass(frozen=True)
class SpaceSetup:
    """What a new space starts with, as its creator asked (create_repo, or a duplicate): hardware, sleep time,
    variables and secrets as (key, value, description)."""

    hardware: str | None = None
    sleep_time: int | None = None
    variables: tuple[tuple[str, str, str | None], ...] = ()
    secrets: tuple[tuple[str, str, str | None], ...] = ()

    def check(self, sdk: str | None) -> None:
        """Refuse what cannot be set on a space of `sdk`, before anything is created."""
        if self.hardware is not None:
            check_hardware(self.hardware, sdk)
        check_sleep_time(self.sleep_time)
        for key, value, description in (*self.variables, *self.secrets):
            check_entry(key, value, description)


async def set_up(conn: asyncpg.Connection, space: asyncpg.Record, setup: SpaceSetup, cipher: Fernet) -> None:
    """Give a new space its hardware, sleep time, variables and secrets (encrypted). The caller checked them."""
    await save(conn, space, Runtime().with_hardware(setup.hardware or FREE_HARDWARE, setup.sleep_time))
    for kind, given in ((store_spaces.VARIABLES, setup.variables), (store_spaces.SECRETS, setup.secrets)):
        for key, value, description in given:
            stored = cipher.encrypt(value.encode()) if kind is store_spaces.SECRETS else value
            await store_spaces.set_entry(conn, kind, space["id"], key, stored, description)
