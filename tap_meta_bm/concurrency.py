"""Fetch independent partitions (ad accounts, pages) concurrently, hand them back in order.

The SDK syncs a stream's partitions one after another and keeps one bookmark per partition.
`PartitionPrefetcher` keeps exactly that contract — records of one partition arrive in their
original order, partitions are consumed in their listed order, so STATE is only ever written
for records already emitted — while up to `max_workers` partitions are being fetched ahead.
Memory stays flat however large the business is: the partitions ahead of the one being
consumed buffer at most `buffer_records` records between them (a worker over that budget
waits, unless its partition is the one being consumed), and no partition more than
`2 * max_workers` ahead of the one being consumed is started.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_DONE = object()
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
    ) -> None:
        self._fetch = fetch
        self._partitions = partitions
        self._index = {context_key(p): i for i, p in enumerate(partitions)}
        self._budget = max(1, buffer_records // _CHUNK)  # chunks buffered, all partitions
        self._buffered = 0
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
        #: Workers waiting for budget, by partition index, each on a condition of its own.
        self._over_budget: dict[int, threading.Condition] = {}
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
            head = self._over_budget.pop(self._consumed, None)
            if head is not None:  # the head never waits for budget: it is what frees it
                head.notify()

    def _queue(self, index: int) -> queue.Queue:
        with self._claimed:
            self._claimed.wait_for(lambda: index in self._queues)
            return self._queues[index]

    def _put(self, index: int, item: object) -> bool:
        with self._lock:
            if isinstance(item, list):
                # The partition being consumed never waits: it is what frees the budget.
                while not (self._cancelled.is_set() or index == self._consumed
                           or self._buffered < self._budget):
                    # Whoever wakes this worker takes it off `_over_budget` first, so each
                    # freed chunk wakes a different worker.
                    waiting = self._over_budget[index] = threading.Condition(self._lock)
                    waiting.wait()
                self._buffered += 1
            if self._cancelled.is_set():
                return False
            self._queues[index].put(item)  # claimed: present until consumed
        return True

    def _taken(self) -> None:
        with self._lock:
            self._buffered -= 1
            if self._over_budget:  # one chunk's room: for the waiter nearest the head
                self._over_budget.pop(min(self._over_budget)).notify()

    def _work(self) -> None:
        while (index := self._claim()) is not None:
            chunk: list[dict[str, Any]] = []
            try:
                for record in self._fetch(self._partitions[index]):
                    chunk.append(record)
                    if len(chunk) >= _CHUNK:
                        if not self._put(index, chunk):
                            return
                        chunk = []
                if chunk and not self._put(index, chunk):
                    return
                self._put(index, _DONE)
            except BaseException as error:  # handed to the consumer, raised in order there
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
            self._taken()
            yield from item  # type: ignore[misc]

    def cancel(self) -> None:
        """Stop handing out partitions and release workers waiting on full buffers."""
        self._cancelled.set()
        with self._lock:
            self._room.notify_all()
            for waiting in self._over_budget.values():
                waiting.notify()
            self._over_budget.clear()
