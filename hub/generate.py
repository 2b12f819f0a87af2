"""The Meltano Hub's extractor definition of tap-meta-bm, made from `tap-meta-bm --about`.

    .venv/bin/python -m hub.generate > hub/tap-meta-bm.yml

`tests/test_hub.py` checks that the committed file is what this makes now, and that it
agrees with the extractor in `meltano.yml`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

TAP = str(Path(sys.executable).with_name("tap-meta-bm"))
#: Settings every SDK tap gets from its capabilities; the Hub adds those by capability.
SDK_SETTING_PREFIXES = ("stream_map", "faker_config", "flattening_", "batch_config")
LABELS = {"access_token": "System-user access token", "app_secret": "App secret",
          "business_ids": "Business ids", "account_ids": "Ad account ids",
          "partner_tokens": "Partner tokens",
          "api_url": "Graph API base URL", "api_version": "Graph API version",
          "usage_threshold_pct": "Usage threshold (%)"}
#: Meltano's capability names for the SDK's (structured logging is no Meltano capability).
CAPABILITIES = {"catalog", "state", "discover", "about", "test", "stream-maps",
                "schema-flattening", "activate-version", "batch"}


def kind(schema: dict[str, Any]) -> str:
    types = set(schema.get("type") or []) - {"null"}
    if schema.get("secret") and "array" not in types:  # a list of secrets stays a list
        return "password"
    if schema.get("format") == "date-time":
        return "date_iso8601"
    for json_type in ("boolean", "integer", "array", "object"):
        if json_type in types:
            return json_type
    return "string"


def definition(about: dict[str, Any]) -> dict[str, Any]:
    settings = []
    properties = about["settings"]["properties"]
    for name, schema in properties.items():
        if name.startswith(SDK_SETTING_PREFIXES):
            continue
        setting: dict[str, Any] = {"name": name, "kind": kind(schema),
                                   "label": LABELS.get(name, name.replace("_", " ").title()),
                                   "description": schema.get("description", "")}
        if schema.get("secret"):
            setting["sensitive"] = True
        if "default" in schema:
            setting["value"] = schema["default"]
        settings.append(setting)
    return {
        "name": about["name"], "namespace": "tap_meta_bm", "variant": "tap-meta-bm",
        "label": "Meta Business Manager",
        "description": "Businesses, ad accounts, campaigns, audiences, pages, every asset, "
                       "people, partners and who holds which task on which asset",
        "pip_url": about["name"], "executable": about["name"],
        "capabilities": sorted(set(about["capabilities"]) & CAPABILITIES),
        "settings_group_validation": [sorted(about["settings"].get("required") or [])],
        "settings": settings,
    }


def main() -> None:
    about = json.loads(subprocess.run([TAP, "--about", "--format", "json"],
                                      capture_output=True, text=True, check=True).stdout)
    sys.stdout.write(yaml.safe_dump(definition(about), sort_keys=False, allow_unicode=True,
                                    width=100))


if __name__ == "__main__":
    main()
