"""The Meltano Hub definition (hub/tap-meta-bm.yml) is what `--about` says, and what
meltano.yml declares."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from hub.generate import SDK_SETTING_PREFIXES, definition
from tests.helpers import TAP_COMMAND

ROOT = Path(__file__).resolve().parent.parent


def committed() -> dict:
    return yaml.safe_load((ROOT / "hub" / "tap-meta-bm.yml").read_text())


def test_the_committed_definition_is_what_about_makes_now():
    about = json.loads(subprocess.run([TAP_COMMAND, "--about", "--format", "json"],
                                      capture_output=True, text=True, check=True).stdout)
    assert committed() == definition(about), "run: .venv/bin/python -m hub.generate > " \
                                             "hub/tap-meta-bm.yml"


def test_meltano_yml_declares_the_same_settings_and_capabilities():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (extractor,) = [e for e in project["plugins"]["extractors"] if e["name"] == "tap-meta-bm"]
    hub = committed()

    def shape(settings: list[dict]) -> dict[str, tuple]:
        return {s["name"]: (s.get("kind", "string"), bool(s.get("sensitive")), s.get("value"))
                for s in settings}

    # The SDK's settings come with the capabilities on the Hub; meltano.yml declares the ones
    # it wants passed from the environment.
    ours = [s for s in extractor["settings"] if not s["name"].startswith(SDK_SETTING_PREFIXES)]
    assert shape(ours) == shape(hub["settings"])
    assert sorted(extractor["capabilities"]) == hub["capabilities"]
    assert extractor["settings_group_validation"] == hub["settings_group_validation"]


def test_the_readme_says_what_each_stream_needs_as_the_doctor_does():
    """README, "The system user and its token": one row per need, listing its streams."""
    from tap_meta_bm.doctor import NEEDS, needs_of
    from tap_meta_bm.graph_stream import GraphStream
    from tap_meta_bm.tap import TapMetaBM

    text = (ROOT / "README.md").read_text()
    section = text[text.index("### The system user and its token"):]
    table = section[section.index("| Permission"):]
    rows = {cells[1]: (cells[0], set(re.findall(r"`(\w+)`", cells[2])))
            for line in table[:table.index("\n\n")].splitlines()[2:]
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    tap = TapMetaBM(config={"access_token": "x"}, validate_config=False)
    expected: dict[str, tuple[str, set[str]]] = {}
    for stream in tap.streams.values():
        if isinstance(stream, GraphStream):
            permission, task, _ = NEEDS[needs_of(stream)]
            shown = permission if permission.startswith("(") else f"`{permission}`"
            expected.setdefault(task, (shown, set()))[1].add(stream.name)
    assert rows == expected
