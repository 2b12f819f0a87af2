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
from typing import IO, Any

from tap_meta_bm.errors import ConfigError
from tap_meta_bm.state import KNOWN_KEYS, REPLICATION_KEY_VALUE

#: The command-line options that name JSON files, and what each must hold.
FILE_OPTIONS = {"--config": "config", "--catalog": "catalog", "--state": "state"}


def check_files(argv: list[str]) -> None:
    """Every `--config/--catalog/--state FILE` can be read; each config file holds a JSON
    object. The state and the catalog are only opened here: they are read and parsed once,
    later, by `read_document` (the tap's `invoke`)."""
    for n, option in enumerate(argv[:-1]):
        what = FILE_OPTIONS.get(option)
        path = argv[n + 1]
        if what is None or (what == "config" and path == "ENV"):
            continue
        try:
            if what == "config":
                parse_document(option, path, Path(path).read_text())
            else:
                Path(path).open().close()
        except (OSError, UnicodeDecodeError) as error:
            raise _unreadable(option, path, error) from None


def read_document(option: str, file: IO[str]) -> dict[str, Any]:
    """The JSON object in an opened `--state` or `--catalog` file, parsed once; a mistake in
    it is one line naming the file."""
    try:
        text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise _unreadable(option, file.name, error) from None
    return parse_document(option, file.name, text)


def _unreadable(option: str, path: str, error: OSError | UnicodeDecodeError) -> ConfigError:
    return ConfigError(f"{option} {path}: cannot read the {FILE_OPTIONS[option]} file "
                       f"({getattr(error, 'strerror', None) or error}).")


def parse_document(option: str, path: str, text: str) -> dict[str, Any]:
    what = FILE_OPTIONS[option]
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
    if what == "catalog":
        _check_catalog_shape(f"{option} {path}", value)
    return value


def _check_catalog_shape(where: str, catalog: dict[str, Any]) -> None:
    """A Singer catalog: `streams`, a list of objects, each naming its stream, with metadata
    as a list (what `--discover` writes)."""
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        raise ConfigError(f"{where}: 'streams' must be a list of stream entries (as "
                          f"--discover writes), not {type(streams).__name__}.")
    for n, entry in enumerate(streams):
        if not isinstance(entry, dict) or not isinstance(
                entry.get("tap_stream_id", entry.get("stream")), str):
            raise ConfigError(f"{where}: streams[{n}] must be an object with a "
                              "'tap_stream_id' (as --discover writes).")
        if not isinstance(entry.get("metadata", []), list):
            raise ConfigError(f"{where}: streams[{n}] ({entry.get('tap_stream_id')}): "
                              "'metadata' must be a list.")


def check_catalog_streams(catalog: Mapping[str, Any] | None, streams: Iterable[str]) -> None:
    """A selected stream this tap does not have would be skipped in silence: name it."""
    if not isinstance(catalog, Mapping):
        return
    known = sorted(streams)
    for entry in catalog.get("streams") or []:
        name = entry.get("tap_stream_id", entry.get("stream"))
        selected = any(m.get("breadcrumb") == [] and (m.get("metadata") or {}).get("selected")
                       for m in entry.get("metadata") or [] if isinstance(m, dict))
        if selected and name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"--catalog: stream '{name}' is selected but this tap has no "
                              f"such stream{hint}; tap-meta-bm --discover lists them.")


def check_unknown_settings(config: Mapping[str, Any], known: Iterable[str],
                           logger: logging.Logger) -> None:
    """A misspelt setting would be ignored in silence. One close to a real one stops the run
    before any request (`busines_ids` would sync every business of the token); one like no
    setting is named and ignored."""
    known = sorted(known)
    for name in sorted(set(config) - set(known)):
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            raise ConfigError(f"Unknown setting '{name}': did you mean '{close[0]}'? Fix its "
                              "name (tap-meta-bm --about lists every setting).")
        logger.warning("Unknown setting '%s': it is ignored.", name)


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
            _check_bookmarks(stream, bookmarks[stream], logger)


def _state_shape(state: Mapping[str, Any]) -> str:
    if state.get("type") == "STATE" or isinstance(state.get("value"), dict):
        return "it looks like a whole STATE message: save its 'value'"
    return f"top-level keys: {', '.join(sorted(map(str, state))[:5])}"


def _check_bookmarks(stream: str, stream_state: dict[str, Any],
                     logger: logging.Logger) -> None:
    other = sorted(set(stream_state) - KNOWN_KEYS)
    if other:  # e.g. singer-io tap-facebook's {"updated_time": ...}
        logger.warning("The state's bookmark of %s has keys this tap does not write (%s): "
                       "they are ignored, and %s starts from its own bookmarks or start_date.",
                       stream, ", ".join(other[:5]), stream)
    entries = [stream_state, *[p for p in stream_state.get("partitions") or []
                               if isinstance(p, dict)]]
    for entry in entries:
        value = entry.get(REPLICATION_KEY_VALUE)
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
