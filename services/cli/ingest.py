"""`hubstream ingest`: follow and stop index runs, through the ingest service's own API.

`status` lists the sources being indexed with a progress bar each (rows done of rows to index,
rate, time left), refreshed until they end with `--watch`; `cancel ID` stops one. Both call the
ingest API with the admin token (`HUBSTREAM_ADMIN_TOKEN`, else the stack's `admin-token` file).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aiohttp
from tqdm import tqdm

from services.cli.common import Commands, service_api

REFRESH_SECONDS = 1.0


def register(commands: Commands) -> None:
    ingest = commands.group("ingest", "follow and stop index runs")
    status = ingest.action("status", "sources being indexed, with a progress bar each", _status)
    status.add_argument("--watch", action="store_true", help="refresh until every run has ended")
    status.add_argument("--all", action="store_true", help="list every source, not only those being indexed")
    ingest.action("cancel", "stop a source's index run", _cancel).add_argument("source_id")


def _api() -> tuple[str, str]:
    return service_api("ingest", "http://127.0.0.1:8702")


async def _call(method: str, path: str, **kw: Any) -> tuple[int, Any]:
    url, token = _api()
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.request(method, url + path, timeout=aiohttp.ClientTimeout(total=30), **kw) as response,
    ):
        return response.status, await response.json(content_type=None)


def _detail(body: Any) -> str:
    return body.get("detail") if isinstance(body, dict) else str(body)


async def _sources(every: bool) -> list[dict]:
    sources: list[dict] = []
    for status in [""] if every else ["processing", "pending"]:
        code, body = await _call("GET", f"/v2/data-sources?limit=500{'&status=' + status if status else ''}")
        if code != 200:
            raise SystemExit(f"hubstream: the ingest API answered {code}: {_detail(body)}")
        sources += body
    return sources


def _describe(source: dict) -> str:
    return f"{source['display_name']} ({source['id'][:8]})"


async def _watch(every: bool, watch: bool) -> int:
    bars: dict[str, tqdm] = {}
    try:
        while True:
            sources = await _sources(every)
            live = {s["id"]: s for s in sources if s.get("progress")}
            if not bars and not live:
                for s in sources:
                    print(
                        f"{_describe(s)}: {s['status']}, {s['indexed_row_count']:,} rows, {s['chunk_count']:,} chunks"
                        + (f" - {s['error']}" if s.get("error") else "")
                    )
                if not sources:
                    print("no source is being indexed")
                return 0
            for source_id, s in live.items():
                progress = s["progress"]
                bar = bars.get(source_id)
                if bar is None:
                    bar = bars[source_id] = tqdm(
                        desc=_describe(s),
                        total=progress["rows_to_index"] or None,
                        unit="rows",
                        unit_scale=True,
                        position=len(bars),
                        leave=True,
                        dynamic_ncols=True,
                    )
                if progress["rows_to_index"] and bar.total != progress["rows_to_index"]:
                    bar.total = progress["rows_to_index"]
                bar.set_postfix_str(progress["stage"])
                bar.update(progress["rows_done"] - bar.n)
            for source_id in set(bars) - set(live):
                bar = bars.pop(source_id)
                bar.set_postfix_str("ended")
                bar.close()
            if not watch:
                return 0
            if not live and not bars:
                return 0
            await asyncio.sleep(REFRESH_SECONDS)
    finally:
        for bar in bars.values():
            bar.close()


def _status(args: argparse.Namespace) -> int:
    return asyncio.run(_watch(args.all, args.watch))


def _cancel(args: argparse.Namespace) -> int:
    code, body = asyncio.run(_call("POST", f"/v2/data-sources/{args.source_id}/cancel"))
    if code != 200:
        print(f"hubstream: could not cancel {args.source_id}: {_detail(body)}", file=sys.stderr)
        return 1
    print(f"cancelled indexing of {body['display_name']} ({body['id']}): {body['error']}")
    return 0
