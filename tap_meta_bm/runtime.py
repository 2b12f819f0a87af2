"""Process-wide tuning for a long sync: the C allocator and Python's cycle collector.

Set by the console entry (`tap_meta_bm.tap.main`) for its own process only: never by importing
the package or by constructing a tap inside someone else's process (tests, notebooks).
"""

from __future__ import annotations

import ctypes
import gc
import os

#: glibc mallopt parameters, and the values set (see `tune_malloc`).
M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES = -3, 128 * 1024
M_ARENA_MAX, MALLOC_ARENAS = -8, 2
#: Allocations of container objects between two young-generation collections (Python: 700).
YOUNG_COLLECTION_THRESHOLD = 50_000


def tune_process() -> None:
    tune_malloc()
    tune_collector()


def tune_malloc() -> None:
    """What MALLOC_ARENA_MAX=2 and MALLOC_MMAP_THRESHOLD_=131072 would do (where not set).

    glibc gives every thread an arena of its own, and after a large block is freed it raises
    the size above which blocks get their own mapping, so later page bodies (megabytes in a
    batch) land in the arenas and stay there: most of the peak RSS of a sync, and growing with
    its length. Two shared arenas and a fixed threshold return large blocks to the system when
    freed. Nothing happens where the C library has no `mallopt` (it is glibc's).
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return
    if "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def tune_collector() -> None:
    """Spare the sync the cycle collector's repeated walks over objects that never die.

    Every decoded page is thousands of new dicts and lists, so with Python's defaults the
    collector runs every 700 of them and, every so often, walks every object in the process
    (the SDK, the catalog, the schemas): about a tenth of a sync's CPU in profiles. Records
    are freed by reference counting as soon as they are written, not by the collector, so
    collecting less often costs no memory worth counting. What exists before the CLI starts
    (the imported SDK, mostly) lives until the process ends: it is frozen out of the
    collector's walks altogether.
    """
    if not gc.isenabled():  # someone (a profiler, an embedding process) decided otherwise
        return
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
