"""A PostgreSQL server for the loader tests, started by them the way `python -m demo.postgres`
starts one (demo/postgres.py), but each in a temp dir of its own on a free port."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from demo.postgres import Postgres

__all__ = ["Postgres", "running_postgres"]


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    # Not below pytest's tmp_path: that is private to root, and the server may not run as root.
    directory = Path(tempfile.mkdtemp(prefix="tap-meta-bm-pg-"))
    directory.chmod(0o755)  # the server's own directory below it belongs to its user
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Postgres(directory / "server", port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
