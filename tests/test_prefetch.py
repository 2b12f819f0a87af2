"""PartitionPrefetcher: order kept, failures raised in order, lookahead bounded."""

from __future__ import annotations

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
