"""A local PostgreSQL for the warehouse, started and stopped by the project itself.

    .venv/bin/python -m demo.postgres start    # in $TMPDIR/tap-meta-bm-postgres, 127.0.0.1:5433
    .venv/bin/python -m demo.postgres stop

`initdb` and `pg_ctl` from PATH or Debian's /usr/lib/postgresql/<version>/bin (`apt-get
install postgresql` puts them there), listening on 127.0.0.1 only, trusting local
connections (a throwaway server for trying the pipeline; use your own for anything else).
Run as root, the server runs as the `postgres` user, as initdb requires (hence a directory in
the temp dir, which that user can reach wherever the checkout is). The tests start
theirs the same way (tests/e2e/postgres.py), each in a temp dir on a free port.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DIRECTORY = Path(tempfile.gettempdir()) / "tap-meta-bm-postgres"
PORT = 5433
DATABASE = "meta_bm"  # the database meltano.yml's target-postgres and transform/ use


def server_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(
        f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise SystemExit(f"{name} not found: install PostgreSQL's server "
                         "(Debian: apt-get install postgresql)")
    return found


class Postgres:
    """A server in `directory` on 127.0.0.1:`port`."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        # initdb refuses to run as root: run the server as the postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *command: str) -> str:
        return subprocess.run([*self.as_user, *command], check=True, capture_output=True,
                              text=True, timeout=120).stdout

    def start(self) -> None:
        """A new cluster with the database, started; the directory must not exist yet."""
        self.directory.mkdir(parents=True)
        if self.as_user:
            shutil.chown(self.directory, "postgres")
        self.run(server_binary("initdb"), "-D", str(self.directory / "data"), "-A", "trust",
                 "-U", "postgres")
        self.run(server_binary("pg_ctl"), "-D", str(self.directory / "data"), "-w", "-l",
                 str(self.directory / "log"), "-o", f"-p {self.port} -k {self.directory} "
                                                    "-c listen_addresses=127.0.0.1", "start")
        self.run(server_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                 "postgres", DATABASE)

    def stop(self) -> None:
        self.run(server_binary("pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast",
                 "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def query(self, sql: str) -> list[tuple[str, ...]]:
        out = self.run(server_binary("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                       "postgres", "-d", DATABASE, "-At", "-F", "\t", "-c", sql)
        return [tuple(line.split("\t")) for line in out.splitlines() if line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop"])
    args = parser.parse_args()
    server = Postgres(DIRECTORY, PORT)
    if args.command == "stop":
        server.stop()
        print(f"PostgreSQL stopped; {DIRECTORY} removed.")
        return
    if DIRECTORY.exists():
        sys.exit(f"{DIRECTORY} exists: stop the server there first "
                 "(.venv/bin/python -m demo.postgres stop)")
    server.start()
    print(f"PostgreSQL on 127.0.0.1:{PORT}, database {DATABASE}, user postgres (no password). "
          "For Meltano and dbt (target-postgres wants a password set; any will do):\n"
          f"  export TARGET_POSTGRES_PORT={PORT} TARGET_POSTGRES_PASSWORD=unused "
          "DBT_TARGET=postgres")


if __name__ == "__main__":
    main()
