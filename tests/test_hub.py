"""The Meltano Hub definition (hub/tap-meta-bm.yml) is what `--about` says, and what
meltano.yml declares."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from hub.generate import definition
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

    assert shape(extractor["settings"]) == shape(hub["settings"])
    assert sorted(extractor["capabilities"]) == hub["capabilities"]
    assert extractor["settings_group_validation"] == hub["settings_group_validation"]
