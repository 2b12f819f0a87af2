"""tap-meta-bm: a Singer tap for Meta Business Manager (see README.md)."""

from __future__ import annotations

from tap_meta_bm.tap import TapMetaBM

__all__ = ["TapMetaBM"]
