"""PartitionPrefetcher: order kept, failures raised in order, lookahead bounded, and a
worker woken only when it can go on."""

from __future__ import annotations

import time

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


def test_partitions_ahead_share_one_record_budget():
    produced = [0]

    def fetch(partition):
        for i in range(1000):
            produced[0] += 1
            yield {"n": partition["n"], "i": i}

    partitions = PARTITIONS[:10]
    prefetcher = PartitionPrefetcher(fetch, partitions, max_workers=4, buffer_records=400)
    settled, last = 0, -1
    while settled < 20:  # wait until the workers stop producing (they are over budget)
        settled = settled + 1 if produced[0] == last else 0
        last = produced[0]
        time.sleep(0.01)
    # The head partition runs free; the others hold 2 chunks in all, plus one chunk being
    # filled per worker. Without a shared budget, 4 partitions would hold 1000 records each.
    assert produced[0] <= 1000 + 2 * 200 + 4 * 200
    for partition in partitions:
        assert [r["i"] for r in prefetcher.records(partition)] == list(range(1000))


class _Waiter:
    def __init__(self) -> None:
        self.notified = 0

    def notify(self) -> None:
        self.notified += 1


def test_a_freed_chunk_wakes_only_the_waiting_worker_nearest_the_head():
    prefetcher = PartitionPrefetcher(lambda p: iter(()), [], max_workers=4)
    waiters = {7: _Waiter(), 3: _Waiter(), 5: _Waiter()}
    prefetcher._over_budget = dict(waiters)
    prefetcher._buffered = 2

    prefetcher._taken()

    assert prefetcher._buffered == 1
    assert {n: w.notified for n, w in waiters.items()} == {7: 0, 3: 1, 5: 0}
    assert sorted(prefetcher._over_budget) == [5, 7]  # 3 re-registers if it still must wait


def test_a_consumed_partition_wakes_only_the_new_heads_worker():
    prefetcher = PartitionPrefetcher(lambda p: iter(()), [], max_workers=4)
    waiters = {1: _Waiter(), 2: _Waiter()}
    prefetcher._over_budget = dict(waiters)

    prefetcher._consumed_through(0)

    assert {n: w.notified for n, w in waiters.items()} == {1: 1, 2: 0}
    assert list(prefetcher._over_budget) == [2]


def test_cancel_releases_workers_waiting_for_budget():
    def fetch(partition):
        yield from ({"n": partition["n"], "i": i} for i in range(1000))

    prefetcher = PartitionPrefetcher(fetch, PARTITIONS[:6], max_workers=4, buffer_records=200)
    deadline = time.monotonic() + 10
    while not prefetcher._over_budget:  # the workers behind the head fill the budget and wait
        assert time.monotonic() < deadline
        time.sleep(0.01)
    prefetcher.cancel()
    for thread in prefetcher._threads:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in prefetcher._threads)
