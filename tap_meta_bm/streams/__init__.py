"""Every stream of the tap: each family's module declares its streams, and importing the
families registers them (`GraphStream.__init_subclass__`). A new stream is its declaration in
its family's module; `STREAM_TYPES` is derived, in sync order (`declared_streams`: the
directory's streams first, then the others).
"""

from __future__ import annotations

from tap_meta_bm.graph_stream import declared_streams
from tap_meta_bm.streams import (  # noqa: F401  imported for the streams they declare
    access,
    activity,
    ad_accounts,
    ads,
    assets,
    audiences,
    business,
    creatives,
    leads,
    pages,
    partners,
    people,
)

STREAM_TYPES = declared_streams()
