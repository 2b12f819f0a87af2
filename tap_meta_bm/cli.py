"""The command line: `tap-meta-bm` is the SDK's CLI, plus `--doctor`, with the tap's own
errors printed as one plain line and a non-zero exit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tap_meta_bm.doctor import Doctor, render_json, render_text
from tap_meta_bm.errors import TapMetaBMError
from tap_meta_bm.inputs import check_files, read_document
from tap_meta_bm.redaction import redact
from tap_meta_bm.runtime import tune_process
from tap_meta_bm.tap import TapMetaBM


def doctor(argv: list[str]) -> int:
    """`--doctor [--format json]`, with `--config FILE|ENV` (and `--catalog FILE`)."""
    def values(option: str) -> list[str]:
        return [argv[n + 1] for n, arg in enumerate(argv[:-1]) if arg == option]

    config: dict[str, Any] = {}
    for path in values("--config"):
        if path != "ENV":
            config.update(json.loads(Path(path).read_text()))
    catalog = None
    if catalogs := values("--catalog"):
        with Path(catalogs[-1]).open() as file:
            catalog = read_document("--catalog", file)
    tap = TapMetaBM(config=config, parse_env_config="ENV" in values("--config"),
                    catalog=catalog)
    report = Doctor(tap).examine()
    print(render_json(report) if "json" in values("--format") else render_text(report))
    return 0 if report.serves_every_stream else 1


def main() -> None:
    """Console entry: the SDK's CLI, with the tap's own errors printed as one plain line."""
    tune_process()
    try:
        check_files(sys.argv[1:])
        if "--doctor" in sys.argv[1:]:
            sys.exit(doctor(sys.argv[1:]))
        TapMetaBM.cli()
    except TapMetaBMError as error:
        print(f"tap-meta-bm: error: {redact(str(error))}", file=sys.stderr)
        sys.exit(1)
