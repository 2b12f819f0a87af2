"""What the user hands the tap besides the config's values: the files, the setting names, the
state. Each mistake becomes one line before any request: an error where the run cannot be
right, a warning where it can but may not be what was meant."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from tap_meta_bm.errors import ConfigError

#: The command-line options that name JSON files, and what each must hold.
FILE_OPTIONS = {"--config": "config", "--catalog": "catalog", "--state": "state"}


def check_files(argv: list[str]) -> None:
    """Every `--config/--catalog/--state FILE` exists and holds a JSON object."""
    for n, option in enumerate(argv[:-1]):
        what = FILE_OPTIONS.get(option)
        path = argv[n + 1]
        if what is None or (what == "config" and path == "ENV"):
            continue
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise ConfigError(f"{option} {path}: cannot read the {what} file "
                              f"({error.strerror or error}).") from None
        if not text.strip():
            raise ConfigError(f"{option} {path}: the {what} file is empty; it must hold a "
                              "JSON object.")
        try:
            value = json.loads(text)
        except ValueError as error:
            position = (f"line {error.lineno}, column {error.colno}"
                        if isinstance(error, json.JSONDecodeError) else "somewhere")
            reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            raise ConfigError(f"{option} {path}: not valid JSON at {position} "
                              f"({reason}).") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{option} {path}: the {what} file must hold a JSON object, "
                              f"not {type(value).__name__}.")


def warn_unknown_settings(config: Mapping[str, Any], known: Iterable[str],
                          logger: logging.Logger) -> None:
    """A misspelt setting would be ignored in silence: name it, and what it may have meant."""
    known = sorted(known)
    for name in sorted(set(config) - set(known)):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        logger.warning("Unknown setting '%s'%s: it is ignored.", name, hint)


def check_state(state: Mapping[str, Any] | None, streams: Mapping[str, str | None],
                logger: logging.Logger) -> None:
    """`streams`: each stream's replication key (None: full table). Corrupt bookmarks stop
    the run; a state the tap cannot use is named, and the run is a full sync."""
    if not isinstance(state, Mapping) or not state:
        return
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, dict):
        shape = _state_shape(state)
        logger.warning("The state has no 'bookmarks' (%s): it is ignored, and this run is a "
                       "full sync.", shape)
        return
    foreign = sorted(set(bookmarks) - set(streams))
    if foreign:
        logger.warning("The state has bookmarks for streams this tap does not have (%s): "
                       "they are ignored%s.", ", ".join(foreign[:5]) + (
                           ", …" if len(foreign) > 5 else ""),
                       "; it looks like another tap's state, and this run is a full sync"
                       if not set(bookmarks) & set(streams) else "")
    for stream, key in streams.items():
        if key and isinstance(bookmarks.get(stream), dict):
            _check_bookmarks(stream, bookmarks[stream])


def _state_shape(state: Mapping[str, Any]) -> str:
    if state.get("type") == "STATE" or isinstance(state.get("value"), dict):
        return "it looks like a whole STATE message: save its 'value'"
    return f"top-level keys: {', '.join(sorted(map(str, state))[:5])}"


def _check_bookmarks(stream: str, stream_state: dict[str, Any]) -> None:
    entries = [stream_state, *[p for p in stream_state.get("partitions") or []
                               if isinstance(p, dict)]]
    for entry in entries:
        value = entry.get("replication_key_value")
        if value is None:
            continue
        try:
            datetime.fromisoformat(str(value))
        except ValueError:
            where = entry.get("context") or "the stream"
            raise ConfigError(f"state: stream {stream}, {where}: bookmark {value!r} is not a "
                              "date-time; fix or remove it, or drop the state for a full "
                              "sync.") from None


def warn_nothing_selected(selected: Iterable[bool], logger: logging.Logger) -> None:
    if not any(selected):
        logger.warning("No stream is selected in the catalog: nothing will be synced. Select "
                       "streams (\"selected\": true in the catalog, or `meltano select`).")
