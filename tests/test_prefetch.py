"""PartitionPrefetcher: order kept, failures raised in order, lookahead bounded, and a
worker woken only when it can go on."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import pytest

from tap_meta_bm.concurrency import PartitionPrefetcher

PARTITIONS = [{"n": n} for n in range(40)]


def test_records_come_back_in_partition_order():
    def fetch(partition):
        for i in range(partition["n"] % 7 * 100):
            yield {"n": partition["n"], "i": i}

    prefetcher = PartitionPrefetcher(fetch, PARTITIONS, max_workers=4)
    for partition in PARTITIONS:
        got = list(prefetcher.records(partition))
        assert got == [{"n": partition["n"], "i": i} for i in range(partition["n"] % 7 * 100)]


def test_no_partition_starts_more_than_two_windows_ahead_of_the_consumer():
    consumed = [0]
    started: list[tuple[int, int]] = []

    def fetch(partition):
        started.append((partition["n"], consumed[0]))
        yield partition

    prefetcher = PartitionPrefetcher(fetch, PARTITIONS, max_workers=3)
    for index, partition in enumerate(PARTITIONS):
        assert list(prefetcher.records(partition)) == [partition]
        consumed[0] = index + 1
    assert sorted(n for n, _ in started) == list(range(40))
    # A worker may see the consumer one partition further than `consumed` says yet.
    assert all(n < seen + 1 + 2 * 3 for n, seen in started)


def test_a_failure_is_raised_when_its_partition_is_reached():
    def fetch(partition):
        if partition["n"] == 5:
            raise RuntimeError("partition 5 failed")
        yield partition

    prefetcher = PartitionPrefetcher(fetch, PARTITIONS, max_workers=4)
    for partition in PARTITIONS[:5]:
        assert list(prefetcher.records(partition)) == [partition]
    with pytest.raises(RuntimeError, match="partition 5 failed"):
        list(prefetcher.records(PARTITIONS[5]))
    prefetcher.cancel()


def settled(count: Callable[[], int]) -> None:
    """Returns once `count()` has stopped changing (the workers wait for budget)."""
    quiet, last = 0, -1
    while quiet < 20:
        quiet = quiet + 1 if count() == last else 0
        last = count()
        time.sleep(0.01)


def test_partitions_ahead_share_one_record_budget_and_the_head_has_its_own():
    produced = [0]

    def fetch(partition):
        for i in range(5000):
            produced[0] += 1
            yield {"n": partition["n"], "i": i}

    partitions = PARTITIONS[:10]
    prefetcher = PartitionPrefetcher(fetch, partitions, max_workers=4, buffer_records=400)
    settled(lambda: produced[0])
    # Queued: 2 chunks of the head's own, 2 chunks shared by the others; plus one chunk
    # being handed over per worker. Unbounded, the head alone would be read whole (5,000).
    assert produced[0] <= (2 + 2 + 4) * 200
    for partition in partitions:
        assert [r["i"] for r in prefetcher.records(partition)] == list(range(5000))


def test_the_head_is_read_ahead_only_its_budget_while_it_is_consumed():
    produced = [0]

    def fetch(partition):
        for i in range(5000):
            produced[0] += 1
            yield {"i": i}

    prefetcher = PartitionPrefetcher(fetch, PARTITIONS[:1], max_workers=1, buffer_records=400)
    records = prefetcher.records(PARTITIONS[0])
    consumed = [record["i"] for _, record in zip(range(1000), records, strict=False)]
    settled(lambda: produced[0])
    assert 1000 + 2 * 200 <= produced[0] <= 1000 + 3 * 200
    assert consumed + [record["i"] for record in records] == list(range(5000))


def test_partitions_ahead_start_only_while_their_pages_fit():
    started: list[int] = []

    def fetch(partition):
        started.append(partition["n"])
        yield from ({"n": partition["n"], "i": i} for i in range(1000))

    # 2,000 records of budget hold four 500-record pages ahead of the head, not sixteen.
    prefetcher = PartitionPrefetcher(fetch, PARTITIONS[:20], max_workers=16,
                                     buffer_records=2000, page_records=500)
    settled(lambda: len(started))
    assert 1 <= len(started) <= 1 + 4
    for partition in PARTITIONS[:20]:
        assert [r["i"] for r in prefetcher.records(partition)] == list(range(1000))


def test_once_partitions_turn_out_small_every_worker_reads_ahead():
    release = threading.Event()
    reading = set()

    def fetch(partition):
        if partition["n"] >= 5:
            reading.add(partition["n"])
            release.wait()
        yield from ({"n": partition["n"], "i": i} for i in range(10))

    prefetcher = PartitionPrefetcher(fetch, PARTITIONS, max_workers=16, page_records=500)
    deadline = time.monotonic() + 10
    while len(reading) < 16:  # before any finished, only four 500-record pages would fit
        assert time.monotonic() < deadline, sorted(reading)
        time.sleep(0.01)
    release.set()
    for partition in PARTITIONS:
        assert [r["i"] for r in prefetcher.records(partition)] == list(range(10))


class _Waiter:
    def __init__(self) -> None:
        self.notified = 0

    def notify(self) -> None:
        self.notified += 1


def test_a_freed_chunk_wakes_only_the_waiting_worker_nearest_the_head():
    prefetcher = PartitionPrefetcher(lambda p: iter(()), [], max_workers=4)
    waiters = {7: _Waiter(), 3: _Waiter(), 5: _Waiter()}
    prefetcher._for_room = dict(waiters)
    prefetcher._buffered = prefetcher._budget

    prefetcher._taken(200)

    assert prefetcher._buffered == prefetcher._budget - 200
    assert {n: w.notified for n, w in waiters.items()} == {7: 0, 3: 1, 5: 0}
    assert sorted(prefetcher._for_room) == [5, 7]  # 3 re-registers if it still must wait


def test_a_consumed_partition_wakes_only_the_new_heads_worker():
    prefetcher = PartitionPrefetcher(lambda p: iter(()), [], max_workers=4)
    waiters = {1: _Waiter(), 2: _Waiter()}
    prefetcher._for_room = dict(waiters)
    prefetcher._queues = {1: queue.Queue(), 2: queue.Queue()}
    prefetcher._buffered = prefetcher._budget  # full: only the head may queue more

    prefetcher._consumed_through(0)

    assert {n: w.notified for n, w in waiters.items()} == {1: 1, 2: 0}
    assert list(prefetcher._for_room) == [2]


def test_only_the_first_partition_held_back_is_woken_to_start():
    prefetcher = PartitionPrefetcher(lambda p: iter(()), [], max_workers=4)
    waiters = {6: _Waiter(), 4: _Waiter()}
    prefetcher._to_start = dict(waiters)
    prefetcher._held = {4, 6}
    prefetcher._buffered = 5

    prefetcher._taken(5)

    assert {n: w.notified for n, w in waiters.items()} == {6: 0, 4: 1}
    assert list(prefetcher._to_start) == [6]


def test_cancel_releases_workers_waiting_for_budget():
    def fetch(partition):
        yield from ({"n": partition["n"], "i": i} for i in range(1000))

    prefetcher = PartitionPrefetcher(fetch, PARTITIONS[:6], max_workers=4, buffer_records=200)
    deadline = time.monotonic() + 10
    while not prefetcher._for_room:  # the workers behind the head fill the budget and wait
        assert time.monotonic() < deadline
        time.sleep(0.01)
    prefetcher.cancel()
    for thread in prefetcher._threads:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in prefetcher._threads)
