"""Fetch independent partitions (ad accounts, pages) concurrently, hand them back in order.

The SDK syncs a stream's partitions one after another and keeps one bookmark per partition.
`PartitionPrefetcher` keeps exactly that contract — records of one partition arrive in their
original order, partitions are consumed in their listed order, so STATE is only ever written
for records already emitted — while up to `max_workers` partitions are being fetched ahead.
Memory stays flat however large the business is. The partitions ahead of the one being
consumed share a budget of `buffer_records` records, which counts what they have queued and,
for each of them being read, a page they may be holding: a partition ahead starts only when
that fits, and a worker over the budget waits. A page is assumed `page_records` long until
partitions have finished, then as long as they were on average (a worker holding a 500-record
page of fat records costs more than the chunks it has queued: sixteen of them at once were
most of a sync's peak memory). The partition being consumed queues at most as many records of
its own, and no partition more than `2 * max_workers` ahead of it is started.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

_DONE = object()
#: How long stopping a reader waits for its threads: one request in flight each, at most.
STOP_SECONDS = 30.0
_CHUNK = 200  # records handed over per queue operation: keeps locking off the per-record path


def context_key(context: dict[str, Any]) -> tuple:
    """A partition or request context as a dictionary key."""
    return tuple(sorted(context.items()))


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class PartitionPrefetcher:
    """Runs `fetch(partition)` for every partition on daemon threads, `max_workers` at a time."""

    def __init__(
        self,
        fetch: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
        partitions: list[dict[str, Any]],
        max_workers: int,
        buffer_records: int = 2000,
        page_records: int = 500,
    ) -> None:
        self._fetch = fetch
        self._partitions = partitions
        self._index = {context_key(p): i for i, p in enumerate(partitions)}
        self._budget = max(1, buffer_records)  # records queued by the partitions ahead
        self._buffered = 0  # records queued, all partitions
        self._head_chunks = max(1, buffer_records // _CHUNK)  # the head's own queue
        self._page_records = max(1, page_records)
        self._held: set[int] = set()  # partitions waiting to start (awake or not)
        self._reading: set[int] = set()  # partitions started and not finished
        self._finished_records = self._finished_partitions = 0
        # Created when a partition is claimed, dropped once consumed: thousands of partitions
        # must not mean thousands of live buffers.
        self._queues: dict[int, queue.Queue] = {}
        self._next = 0
        self._consumed = 0
        self._window = 2 * max_workers
        # Conditions on one lock, each woken only for what its waiters need: waking every
        # worker for every claim, consumed chunk or consumed partition (most of them to go
        # back to sleep) was tens of thousands of context switches per run.
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # workers: the window has room, or over
        self._claimed = threading.Condition(self._lock)  # the consumer: its partition claimed
        #: Workers waiting to start their partition, and waiting for room to queue a chunk,
        #: by partition index, each on a condition of its own: only one that can go on is woken.
        self._to_start: dict[int, threading.Condition] = {}
        self._for_room: dict[int, threading.Condition] = {}
        self._cancelled = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"partition-worker-{n}", daemon=True)
            for n in range(min(max_workers, len(partitions)))
        ]
        for thread in self._threads:
            thread.start()

    def __contains__(self, partition: dict[str, Any]) -> bool:
        return context_key(partition) in self._index

    def _claim(self) -> int | None:
        with self._room:
            self._room.wait_for(lambda: self._cancelled.is_set()
                                or self._next >= len(self._partitions)
                                or self._next < self._consumed + self._window)
            if self._next >= len(self._partitions) or self._cancelled.is_set():
                self._room.notify_all()  # nothing left to claim: let every worker end
                return None
            self._queues[self._next] = queue.Queue()  # bounded by the budget, see _put
            self._next += 1
            self._claimed.notify()
            return self._next - 1

    def _consumed_through(self, index: int) -> None:
        with self._lock:
            self._consumed = max(self._consumed, index + 1)
            self._queues.pop(index, None)
            self._room.notify()  # one partition consumed: room for one more
            self._wake_ready()  # the new head, which never waits long, or one fewer ahead

    def _wait_for(self, index: int, ready: Callable[[], bool],
                  waiters: dict[int, threading.Condition]) -> bool:
        """Waits (lock held) until `ready()` or cancellation; False if cancelled."""
        while not (self._cancelled.is_set() or ready()):
            # Whoever wakes this worker takes it off `waiters` first, so each freed chunk or
            # place wakes a different worker.
            waiting = waiters[index] = threading.Condition(self._lock)
            waiting.wait()
        return not self._cancelled.is_set()

    def _wake_ready(self) -> None:
        """Wakes the worker nearest the head that can go on now, if any (lock held).

        A few checks however many wait: only the first partition held back may start, and
        the partitions ahead all wait for the same shared room (the head, for its own)."""
        ready: list[tuple[int, dict[int, threading.Condition]]] = []
        if self._to_start and (first := min(self._held)) in self._to_start \
                and self._may_start(first):
            ready.append((first, self._to_start))
        for index in sorted(self._for_room):
            if self._has_room(index):
                ready.append((index, self._for_room))
                break
            if index != self._consumed:
                break
        if ready:
            index, waiters = min(ready, key=lambda item: item[0])
            waiters.pop(index).notify()

    def _start(self, index: int) -> bool:
        with self._lock:
            self._held.add(index)
            started = self._wait_for(index, lambda: self._may_start(index), self._to_start)
            self._held.discard(index)
            if started:
                self._reading.add(index)
                self._wake_ready()  # the next partition held back may fit too
            return started

    def _may_start(self, index: int) -> bool:
        if index == self._consumed:
            return True
        if min(self._held) < index:
            # Not ahead of one held back: first pages come in batches of the partitions that
            # follow the one asking, so a partition starting out of turn sends a batch of
            # its own, and the budget goes to partitions that are consumed later.
            return False
        ahead = len(self._reading) - (self._consumed in self._reading)
        if not ahead:  # one partition ahead whenever there is room, whatever a page may hold
            return self._buffered < self._budget
        return self._buffered + (ahead + 1) * self._page_estimate() <= self._budget

    def _page_estimate(self) -> int:
        if not self._finished_partitions:
            return self._page_records
        mean = -(-self._finished_records // self._finished_partitions)
        return max(1, min(self._page_records, mean))

    def _finished(self, index: int, records: int) -> None:
        with self._lock:
            self._reading.discard(index)
            self._finished_records += records
            self._finished_partitions += 1
            self._wake_ready()

    def _queue(self, index: int) -> queue.Queue:
        with self._claimed:
            self._claimed.wait_for(lambda: index in self._queues)
            return self._queues[index]

    def _put(self, index: int, item: object) -> bool:
        with self._lock:
            if isinstance(item, list):
                if not self._wait_for(index, lambda: self._has_room(index), self._for_room):
                    return False
                self._buffered += len(item)
            if self._cancelled.is_set():
                return False
            self._queues[index].put(item)  # claimed: present until consumed
        return True

    def _has_room(self, index: int) -> bool:
        if index == self._consumed:
            # Not held back by the partitions ahead (it is what frees their budget), only by
            # its own backlog, which the consumer is draining: a business with 100,000 users
            # must not be read into memory whole while it is written out.
            return self._queues[index].qsize() < self._head_chunks
        return self._buffered < self._budget

    def _taken(self, records: int) -> None:
        with self._lock:
            self._buffered -= records
            self._wake_ready()  # one chunk's room

    def _work(self) -> None:
        while (index := self._claim()) is not None:
            if not self._start(index):
                return
            chunk: list[dict[str, Any]] = []
            records = 0
            try:
                for record in self._fetch(self._partitions[index]):
                    chunk.append(record)
                    if len(chunk) >= _CHUNK:
                        records += len(chunk)
                        if not self._put(index, chunk):
                            return
                        chunk = []
                records += len(chunk)
                if chunk and not self._put(index, chunk):
                    return
                self._finished(index, records)
                self._put(index, _DONE)
            except BaseException as error:  # handed to the consumer, raised in order there
                self._finished(index, records)
                self._put(index, _Failure(error))

    def records(self, partition: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The records of one partition, in the order the API returned them."""
        index = self._index[context_key(partition)]
        source = self._queue(index)
        while True:
            item = source.get()
            if item is _DONE:
                self._consumed_through(index)
                return
            if isinstance(item, _Failure):
                self._consumed_through(index)
                raise item.error
            self._taken(len(item))
            yield from item

    def cancel(self) -> None:
        """Stop handing out partitions and release workers waiting on full buffers."""
        self._cancelled.set()
        with self._lock:
            self._room.notify_all()
            for waiters in (self._to_start, self._for_room):
                for waiting in waiters.values():
                    waiting.notify()
                waiters.clear()

    def join(self, timeout: float) -> None:
        """Wait for the workers to end (after `cancel`, or once every partition is read)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class Stoppable(Protocol):
    """Something a reader reads through that runs threads of its own (report jobs)."""

    def close(self) -> None: ...

    def join(self, timeout: float) -> None: ...


class PartitionReader:
    """The one way a stream's partitions are read: in their listed order, each partition's
    records in the order Graph sent them, fetched ahead on `workers` threads (a
    PartitionPrefetcher) or, with one worker or one partition, on the consumer's thread.

    `stop` ends every thread the reader started, and those of what it reads through (`owns`):
    asked when a stream is done, stops early (a dry run), or fails."""

    def __init__(self, fetch: Callable[[Mapping[str, Any]], Iterable[dict[str, Any]]],
                 partitions: list[dict[str, Any]], workers: int, *,
                 buffer_records: int = 2000, page_records: int = 500) -> None:
        self._fetch = fetch
        self._prefetcher = PartitionPrefetcher(
            fetch, partitions, workers, buffer_records=buffer_records,
            page_records=page_records) if workers > 1 and len(partitions) > 1 else None
        self._owned: list[Stoppable] = []

    def owns(self, stoppable: Stoppable) -> None:
        self._owned.append(stoppable)

    def records(self, partition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """One partition's records (read now, or as fetched ahead)."""
        if self._prefetcher is not None:
            return self._prefetcher.records(dict(partition))
        return iter(self._fetch(partition))

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Cancel what is left, and wait up to `timeout` for the threads to end."""
        if self._prefetcher is not None:
            self._prefetcher.cancel()
        for owned in self._owned:
            owned.close()
        deadline = time.monotonic() + timeout
        threads: list[Stoppable | PartitionPrefetcher] = [*self._owned]
        if self._prefetcher is not None:
            threads.append(self._prefetcher)
        for stoppable in threads:
            stoppable.join(max(0.0, deadline - time.monotonic()))
