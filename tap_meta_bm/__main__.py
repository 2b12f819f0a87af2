"""`python -m tap_meta_bm`: the same command as `tap-meta-bm`."""

from __future__ import annotations

from tap_meta_bm.cli import main

main()
