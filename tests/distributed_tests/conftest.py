"""A real PostgreSQL server for the distributed tests, started from the installed binaries."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from pg import PostgresServer, unavailable_reason

_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One server for the session; skipped (outside CI only) when it cannot run here."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"no PostgreSQL server: {reason}")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return pg_server.create_database(f"t{next(_databases)}")


@pytest.fixture
def fast_heartbeats(monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """Heartbeat every second and fail a silent trial after 4, in this process and in every
    worker it starts."""
    monkeypatch.setenv("TINYNAS_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("TINYNAS_HEARTBEAT_GRACE", "4")
    return 1, 4
