"""The Singer SDK's private names the tap still uses: exactly those sdk_surface.py lists, each
still there with the shape the tap relies on. An SDK upgrade that changes one fails here."""

from __future__ import annotations

import ast
import inspect
import logging
from pathlib import Path
from typing import ClassVar

from singer_sdk import Stream, Tap
from singer_sdk.helpers import _state as sdk_state_helpers
from singer_sdk.streams import _state as sdk_state

from tap_meta_bm import sdk_surface
from tap_meta_bm.sdk_surface import cli_config
from tap_meta_bm.tap import TapMetaBM
from tests.helpers import config

PACKAGE = Path(sdk_surface.__file__).parent


def tap_sources() -> dict[str, ast.Module]:
    return {str(p.relative_to(PACKAGE)): ast.parse(p.read_text()) for p in PACKAGE.rglob("*.py")}


def sdk_private_names() -> set[str]:
    """Private names of the SDK's Tap and Stream: their classes' and their instances'."""

    class BareStream(Stream):
        name = "bare"
        schema: ClassVar[dict] = {"properties": {}}

        def get_records(self, context):
            return []

    class BareTap(Tap):
        name = "bare"
        config_jsonschema: ClassVar[dict] = {"properties": {}}

        def discover_streams(self):
            return [BareStream(self)]

    tap = BareTap(config={})
    names = {*dir(Stream), *dir(Tap), *vars(tap), *vars(tap.streams["bare"]),
             *dir(sdk_state.StreamStateManager), *vars(tap.streams["bare"].state_manager)}
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_the_only_private_sdk_names_are_those_sdk_surface_lists():
    sdk_names = sdk_private_names()
    used: dict[str, set[str]] = {}
    private_modules: dict[str, set[str]] = {}
    for name, tree in tap_sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "singer_sdk") and any(p.startswith("_") for p in node.module.split(".")):
                private_modules.setdefault(node.module, set()).add(name)
            named = node.attr if isinstance(node, ast.Attribute) else (
                node.name if isinstance(node, ast.FunctionDef) else None)
            if named in sdk_names:
                used.setdefault(named, set()).add(name)
    assert {a: sorted(f) for a, f in used.items()} == {
        "_write_record_message": ["sdk_surface.py"], "_stream_version": ["sdk_surface.py"],
        "_write_activate_version_message": ["sdk_surface.py"], "_state_writer": ["sdk_surface.py"]}
    assert private_modules == {"singer_sdk.streams._state": {"sdk_surface.py"}}


def test_no_sdk_method_marked_final_is_overridden():
    classes = {TapMetaBM, *(type(s) for s in TapMetaBM(config=config()).streams.values())}
    overridden = []
    for cls in classes:
        for klass in cls.__mro__:
            if not klass.__module__.startswith("tap_meta_bm"):
                continue
            for name in vars(klass):
                for base in cls.__mro__:
                    if base.__module__.startswith("singer_sdk") and getattr(
                            vars(base).get(name), "__final__", False):
                        overridden.append(f"{klass.__name__}.{name}")
    assert overridden == []


def test_write_record_message_takes_the_record_and_is_called_per_record():
    assert list(inspect.signature(Stream._write_record_message).parameters) == [
        "self", "record"]
    assert "self._write_record_message(record)" in inspect.getsource(Stream._sync_records)


def test_stream_version_is_what_the_sdk_stamps_on_records():
    stream = TapMetaBM(config=config()).streams["partners"]
    assert stream._stream_version is None  # until a full-table sync with ACTIVATE_VERSION
    assert "version=self._stream_version" in inspect.getsource(
        Stream._generate_record_messages)


def test_activate_version_is_written_through_the_method_the_tap_holds_back():
    assert list(inspect.signature(Stream._write_activate_version_message).parameters) == [
        "self", "full_table_version"]
    source = inspect.getsource(Stream.sync)
    assert "self._write_activate_version_message(self._stream_version)" in source
    assert "self.emit_activate_version_messages" in source


def test_the_sdk_writes_state_outside_the_streams_only_through_its_state_writer():
    # sync_all writes the input state, SIGTERM the whole state: both through _state_writer,
    # which the tap replaces (sdk_surface.py, 5); streams write through state_writer.
    assert "self._state_writer.write_state(self.state)" in inspect.getsource(Tap.sync_all)
    assert "self._state_writer.write_state(self.state)" in inspect.getsource(
        Tap._handle_termination)
    assert "self._tap.state_writer.write_state(self.tap_state)" in inspect.getsource(
        Stream._write_state_message)
    tap = TapMetaBM(config=config())
    assert tap._state_writer._checkpoints is tap.run.checkpoints
    assert tap.state_writer is tap.run.checkpoints


def test_the_sdk_writes_a_streams_state_once_per_change_as_the_tap_does():
    source = inspect.getsource(Stream._write_state_message)
    assert "if not self.state_manager.is_flushed:" in source
    assert "self.state_manager.is_flushed = True" in source
    # A record written marks it not flushed, in the SDK's path as in the tap's fast path.
    assert "self.state_manager.is_flushed = False" in inspect.getsource(
        Stream._write_record_message)
    assert "self.state_manager.is_flushed = False" in inspect.getsource(
        sdk_surface.FastRecordWriting._write_record_message)


def test_sync_all_calls_log_sync_costs_on_every_stream_after_all_of_them_synced():
    source = inspect.getsource(Tap.sync_all)
    synced = source.index("stream.sync()")
    costs = source.index("stream.log_sync_costs()")
    assert synced < costs
    # The costs loop is a loop of its own, over every stream, after the sync loop.
    assert source[synced:costs].count("for stream in self.streams.values():") == 1
    assert "try:" not in source and "except" not in source  # a failure skips the second loop


def test_state_manager_class_keeps_the_shape_the_index_relies_on():
    parameters = inspect.signature(sdk_state.StreamStateManager.__init__).parameters
    assert {"stream_name", "tap_state", "is_sorted", "check_sorted", "tap_name",
            "state_partitioning_keys"} <= set(parameters)
    for method in ("get_context_state", "get_state_partition_context", "finalize_state"):
        assert callable(getattr(sdk_state.StreamStateManager, method))
    manager = sdk_surface.IndexedStateManager(stream_name="s", tap_state={},
                                              state_partitioning_keys=["account_id"])
    assert manager.is_flushed is True
    assert isinstance(manager.stream_state, dict)


def test_quieted_sdk_lines_are_still_logged_by_the_sdk_where_the_tap_filters_them():
    (starting_logger, starting), (unsorted_logger, unsorted) = sdk_surface.QUIETED_SDK_LINES
    assert f'"{starting}"' in inspect.getsource(sdk_state)
    assert "logging.getLogger(tap_name).getChild(stream_name)" in inspect.getsource(sdk_state)
    assert starting_logger == "{tap}.{stream}"
    assert sdk_state_helpers.logger.name == unsorted_logger
    source = " ".join(inspect.getsource(sdk_state_helpers.increment_state).split())
    assert '"Stream is assumed to be unsorted, progress is not resumable if " "interrupted"' \
        in source
    assert unsorted == ("Stream is assumed to be unsorted, progress is not resumable if "
                        "interrupted")


def test_the_sdk_logs_a_failed_sync_with_the_text_the_tap_filters():
    assert f'"{sdk_surface.SYNC_FAILED}"' in inspect.getsource(Stream.sync)


def test_a_failed_sync_line_is_dropped_only_for_the_taps_own_errors(caplog):
    from tap_meta_bm.errors import ConfigError
    sdk_surface.quiet_sdk_lines("tap-meta-bm", "campaigns")
    logger = logging.getLogger("tap-meta-bm.campaigns")
    for error in (ConfigError("ours"), ValueError("a bug")):
        try:
            raise error
        except Exception:
            logger.error(sdk_surface.SYNC_FAILED, "campaigns")
    assert [r.getMessage() for r in caplog.records] == [
        "An unhandled error occurred while syncing 'campaigns'"]


def test_quieted_lines_are_dropped_and_nothing_else(caplog):
    sdk_surface.quiet_sdk_lines("tap-meta-bm", "campaigns")
    caplog.set_level(logging.INFO)
    logging.getLogger("tap-meta-bm.campaigns").info(
        "Starting incremental sync of '%s' with bookmark value: %s", "campaigns", None)
    logging.getLogger("singer_sdk").warning(sdk_surface.QUIETED_SDK_LINES[1][1])
    logging.getLogger("tap-meta-bm.campaigns").info("Beginning sync of 'campaigns'")
    assert [r.getMessage() for r in caplog.records] == ["Beginning sync of 'campaigns'"]


def test_the_sdk_cli_hands_invoke_what_the_tap_reads_from_it():
    """TapMetaBM.invoke replaces the SDK's (sdk_surface.py, 6.): the same arguments, and the
    config object's two fields `cli_config` reads."""
    assert list(inspect.signature(Tap.invoke).parameters) == [
        "about", "about_format", "config", "state", "catalog"]
    from singer_sdk.plugin_base import _ConfigInput

    assert cli_config(_ConfigInput(config={"a": 1}, parse_env=True)) == ({"a": 1}, True)
    assert cli_config(None) == ({}, False)
