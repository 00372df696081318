"""`up` starting PostgreSQL on a port something holds for a moment: retried, then explained (real server)."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest

from deploy import postgres
from deploy.layout import Layout, StackSettings
from deploy.ports import PortInUse
from deploy.stack import Stack
from tests.conftest import free_port


def hold(port: int) -> socket.socket:
    """Take the port as the local end of an outgoing connection does: bound, no SO_REUSEADDR, not listening."""
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    return s


def test_postgres_start_retries_a_port_in_use_then_names_the_port_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HUBSTREAM_DATABASE_URL", raising=False)
    port = free_port()

    def stack(bind_retry: float) -> Stack:
        layout = Layout(home=tmp_path, settings=StackSettings(pg_port=port, bind_retry=bind_retry))
        layout.logs.mkdir(parents=True, exist_ok=True)
        return Stack(layout)

    cluster = stack(0).pg
    cluster.durable = False
    cluster.init()
    try:
        holder = hold(port)
        try:
            with pytest.raises(PortInUse) as refused:
                stack(bind_retry=1.5).launch_postgres()
        finally:
            holder.close()
        assert f"could not bind 127.0.0.1:{port}: address already in use" in str(refused.value)
        assert "set HUBSTREAM_PG_PORT to a free port" in str(refused.value)

        holder = hold(port)
        threading.Timer(2.0, holder.close).start()  # the port comes free while `up` retries
        process = stack(bind_retry=15).launch_postgres()
        try:
            assert cluster.is_running()
            assert f"127.0.0.1:{port} is in use (address already in use); trying again" in capsys.readouterr().out
        finally:
            postgres.stop_process(process)
    finally:
        cluster.stop()
        shutil.rmtree(cluster.data_dir, ignore_errors=True)
        cluster.log_file.unlink(missing_ok=True)


def test_kafka_start_names_the_port_in_use_and_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBSTREAM_KAFKA", raising=False)
    port, controller = free_port(), free_port()
    settings = StackSettings(kafka_port=port, kafka_controller_port=controller, bind_retry=1)
    layout = Layout(home=tmp_path, settings=settings)
    layout.logs.mkdir(parents=True)
    holder = hold(controller)
    try:
        with pytest.raises(PortInUse) as refused:
            Stack(layout).launch_kafka()
    finally:
        holder.close()
    assert f"kafka could not bind 127.0.0.1:{controller}: address already in use" in str(refused.value)
    assert "set HUBSTREAM_KAFKA_CONTROLLER_PORT to a free port" in str(refused.value)
