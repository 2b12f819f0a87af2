"""A throwaway copy of this checkout, for every test that runs Meltano, `make` or the README.

Meltano keeps its runs, its state and each run's plugin config (the token in it, mode 644, left
behind by a run that is killed) under the project's `.meltano/`; dbt writes its artifacts in
transform/; the README's steps write config.json and messages.jsonl where they run. Run in the
checkout itself, the tests would write all of that into the user's project: runs and
bookmarks under the production state ids, and a token on disk. The copy shares only the
installed virtualenvs, which it reads and never installs into, and is deleted with its test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
MELTANO = os.environ.get("MELTANO_BIN", str(ROOT / ".venv-meltano" / "bin" / "meltano"))
#: What `make` installed: shared, read-only, by symlink (installing again takes minutes).
VIRTUALENVS = (".venv", ".venv-meltano", ".venv-dagster")
PLUGIN_KINDS = ("extractors", "loaders", "utilities")
#: The Makefile's install targets' sources (its prerequisites): in the copy they are dated to
#: the epoch, so `make demo` there finds everything installed. An install there would go into
#: the shared virtualenvs, from the copy, which is deleted after its test.
INSTALL_SOURCES = ("pyproject.toml", "meltano.yml", "orchestrate/requirements.txt")
#: What would point Meltano at another project or another system database than the copy's.
ELSEWHERE = ("MELTANO_PROJECT_ROOT", "MELTANO_DATABASE_URI", "MELTANO_STATE_BACKEND_URI")


def checkout_files(root: Path) -> list[str]:
    """The files a fresh checkout has (tracked, or new and not ignored), nothing a run wrote."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=root, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0")
            if name and (root / name).is_file()]


def copy_checkout(root: Path, into: Path) -> Project:
    copied = checkout_files(root)
    for name in copied:
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, into / name)
    for name in INSTALL_SOURCES:
        os.utime(into / name, (0, 0))
    for venv in VIRTUALENVS:
        if (root / venv).exists():
            (into / venv).symlink_to(root / venv)
    (into / ".meltano").mkdir()
    for kind in PLUGIN_KINDS:
        if (root / ".meltano" / kind).exists():
            (into / ".meltano" / kind).symlink_to(root / ".meltano" / kind)
    (into / ".meltano" / "installed").touch()  # make's marker of `meltano install`
    return Project(into, frozenset(copied))


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file of `root` outside its virtualenvs, plugins and caches:
    what a test must leave as it found it."""
    skip = {*VIRTUALENVS, *PLUGIN_KINDS, ".git", "__pycache__", ".pytest_cache",
            ".mypy_cache", ".ruff_cache", ".hypothesis",
            "target", "logs"}  # dbt's compiled SQL and logs, remade by every build
    found = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            stat = (Path(directory) / name).stat()
            found[str(Path(directory, name).relative_to(root))] = (stat.st_size,
                                                                   stat.st_mtime_ns)
    return found


def here(env: dict[str, str]) -> dict[str, str]:
    """`env` without what would send Meltano to another project or system database, and
    without Meltano's daily look at PyPI for a newer release: a test reaches nothing but
    127.0.0.1."""
    return {**{k: v for k, v in env.items() if k not in ELSEWHERE},
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "1"}


@dataclass(frozen=True)
class Project:
    """The copy: commands run in it, Meltano with its own system database."""

    root: Path
    copied: frozenset[str]

    def run(self, command: list[str], env: dict[str, str], timeout: float = 600,
            output: IO[str] | None = None) -> subprocess.CompletedProcess[str]:
        """`command` in the copy; its output captured, or written to `output` (a step left
        running in the background then holds no pipe open)."""
        if output is None:
            return subprocess.run(command, cwd=self.root, env=here(env), text=True,
                                  timeout=timeout, check=False, capture_output=True)
        return subprocess.run(command, cwd=self.root, env=here(env), text=True,
                              timeout=timeout, check=False, stdout=output,
                              stderr=subprocess.STDOUT)

    def start(self, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """`command` in the copy, in the background and a session of its own (to be killed
        with its children), its output discarded."""
        return subprocess.Popen(command, cwd=self.root, env=here(env),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)

    def meltano(self, *args: str, env: dict[str, str], timeout: float = 600
                ) -> subprocess.CompletedProcess[str]:
        return self.run([MELTANO, *args], env=env, timeout=timeout)

    def files_holding(self, secret: str) -> list[str]:
        """Every file written in the copy since it was made whose bytes contain `secret`."""
        return sorted(name for name in snapshot(self.root) if name not in self.copied
                      and secret.encode() in (self.root / name).read_bytes())
