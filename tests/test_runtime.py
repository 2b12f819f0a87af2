"""Process tuning done by the console entry: the cycle collector and the C allocator."""

from __future__ import annotations

import gc

import pytest

from tap_meta_bm import runtime


@pytest.fixture
def collector():
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    if enabled:
        gc.enable()


def test_collector_freezes_what_exists_and_collects_young_objects_less_often(collector):
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    runtime.tune_collector()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (runtime.YOUNG_COLLECTION_THRESHOLD, 10, 10)


def test_a_disabled_collector_is_left_alone(collector):
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    gc.disable()
    runtime.tune_collector()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)
    assert not gc.isenabled()


def test_console_entry_tunes_the_process_before_the_cli(monkeypatch):
    from tap_meta_bm import cli

    calls: list[str] = []
    monkeypatch.setattr(cli, "tune_process", lambda: calls.append("tune"))
    monkeypatch.setattr(cli.TapMetaBM, "cli", classmethod(lambda cls: calls.append("cli")))
    cli.main()
    assert calls == ["tune", "cli"]
