"""A PostgreSQL server for the loader tests, started by them: `initdb` + `pg_ctl` in a temp dir,
on 127.0.0.1 only, from the server binaries on PATH or Debian's /usr/lib/postgresql/<v>/bin."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def server_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(
        f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        pytest.fail(f"{name} not found: install PostgreSQL (Debian: apt-get install postgresql)")
    return found


class Postgres:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        # initdb refuses to run as root: run the server as the postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *command: str) -> str:
        return subprocess.run([*self.as_user, *command], check=True, capture_output=True,
                              text=True, timeout=120).stdout

    def query(self, sql: str) -> list[tuple[str, ...]]:
        out = self.run(server_binary("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                       "postgres", "-d", "meta_bm", "-At", "-F", "\t", "-c", sql)
        return [tuple(line.split("\t")) for line in out.splitlines() if line]


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    # Not below pytest's tmp_path: that is private to root, and the server may not run as root.
    directory = Path(tempfile.mkdtemp(prefix="tap-meta-bm-pg-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Postgres(directory, port)
    if server.as_user:
        shutil.chown(directory, "postgres")
    server.run(server_binary("initdb"), "-D", str(directory / "data"), "-A", "trust", "-U",
               "postgres")
    server.run(server_binary("pg_ctl"), "-D", str(directory / "data"), "-w", "-l",
               str(directory / "log"), "-o", f"-p {port} -k {directory} "
                                             "-c listen_addresses=127.0.0.1", "start")
    try:
        server.run(server_binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                   "postgres", "meta_bm")
        yield server
    finally:
        server.run(server_binary("pg_ctl"), "-D", str(directory / "data"), "-m", "fast",
                   "stop")
        shutil.rmtree(directory, ignore_errors=True)
