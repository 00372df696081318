"""The short fault bench: writes keep flowing while the broker, PostgreSQL, relays and workers are killed.

One round of each fault at a low rate, on a private `hubstream up`. The bench itself counts what
the README promises: no accepted write loses its event or gets it twice, no source stays pending, every
accepted versioning upsert is stored once, committed, with its event published, every delta event
the broker acknowledged is answered once with its version stored, and
a client sees 503 (never another 5xx) while a dependency is down. (A 503 whose commit had in fact
landed is reported as "in doubt", not failed: see bench/faults/report.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra


def test_every_fault_recovers_with_nothing_lost_doubled_or_stuck(tmp_path: Path) -> None:
    out = tmp_path / "rounds.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.faults",
            "--rounds",
            "1",
            "--rate",
            "10",
            "--before",
            "2",
            "--after",
            "2",
            "--recover-timeout",
            "90",
            "--settle-timeout",
            "90",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = result.stdout + result.stderr
    rounds = json.loads(out.read_text())
    faults = [r["fault"] for r in rounds]
    assert faults == ["none", "broker", "postgres", "relays+workers"], report
    for r in rounds:
        assert set(r["services"]) == {"catalog", "ingest", "versioning", "deltas"}, report
        assert r["recovered_after"] is not None, f"{r['fault']} never recovered:\n{report}"
        for service, outcome in r["services"].items():
            where = f"{r['fault']} / {service}:\n{report}"
            assert outcome["accepted"] > 0, where
            assert outcome["lost"] == outcome["doubled"] == outcome["stuck"] == 0, where
            assert set(outcome["refused"]) <= {"503"}, where
    assert result.returncode == 0, report
