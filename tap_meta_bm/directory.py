"""The businesses, ad accounts, pages and asset groups a run covers, read once per run.

Streams below an asset (campaigns below an ad account, assignments below a page ...) are
partitioned by it. The lists come from the same requests that feed the `businesses`,
`ad_accounts`, `pages` and `business_asset_groups` streams: those streams emit the cached
records, so no edge is read twice whichever streams are selected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tap_meta_bm.client import GraphStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_meta_bm.tap import TapMetaBM

Record = dict[str, Any]
Partition = dict[str, Any]


def bare_account_id(account_id: str) -> str:
    """`act_123` or `123` -> `123`: the form Graph's usage headers and `account_id` use."""
    return account_id.removeprefix("act_")


class Directory:
    """Cached records of the directory-like streams, and the partitions built from them."""

    def __init__(self, tap: TapMetaBM) -> None:
        self._tap = tap
        self._cache: dict[tuple[str, str | None], list[Record]] = {}
        self._partitions: dict[str, list[Partition]] = {}

    def records(self, stream_name: str, business_id: str | None) -> list[Record]:
        """The records `stream_name` yields for one business (fetched on first use)."""
        key = (stream_name, business_id)
        if key not in self._cache:
            stream = self._tap.streams[stream_name]
            context = {"business_id": business_id} if business_id else None
            self._cache[key] = list(stream.fetch(context))
        return self._cache[key]

    def release(self, stream_name: str, business_id: str | None) -> None:
        """Keep only the ids once the stream itself has emitted its records: partitions need
        nothing else, and a large business must not hold every ad account and page twice."""
        key = (stream_name, business_id)
        if key in self._cache:
            self._cache[key] = [{"id": record.get("id")} for record in self._cache[key]]

    def business_ids(self) -> list[str]:
        configured = self._tap.business_ids
        if configured:
            return configured
        return [str(r["id"]) for r in self.records("businesses", None)]

    def partitions(self, kind: str) -> list[Partition]:
        """The partitions of one kind, built once and shared by every stream of that kind."""
        if kind not in self._partitions:
            self._partitions[kind] = self._build_partitions(kind)
        return self._partitions[kind]

    def _build_partitions(self, kind: str) -> list[Partition]:
        builders: dict[str, Callable[[], list[Partition]]] = {
            "business": lambda: [{"business_id": b} for b in self.business_ids()],
            "ad_account": lambda: self._ad_accounts(unique=True),
            "business_ad_account": lambda: self._ad_accounts(unique=False),
            "business_page": self._pages,
            "asset_group": self._asset_groups,
        }
        return builders[kind]()

    def _ad_accounts(self, *, unique: bool) -> list[Partition]:
        wanted = self._tap.account_ids
        seen: set[str] = set()
        out: list[Partition] = []
        for business_id in self.business_ids():
            for record in self.records("ad_accounts", business_id):
                account_id = bare_account_id(str(record["id"]))
                if (wanted and account_id not in wanted) or (unique and account_id in seen):
                    continue
                seen.add(account_id)
                out.append({"business_id": business_id, "account_id": account_id})
        return out

    def _pages(self) -> list[Partition]:
        # Per (business, page): assignments are read with `business=`, which scopes them to the
        # people of that business, so a page shared by two configured businesses is read twice.
        return [
            {"business_id": business_id, "page_id": str(record["id"])}
            for business_id in self.business_ids()
            for record in self.records("pages", business_id)
        ]

    def _asset_groups(self) -> list[Partition]:
        return [
            {"business_id": business_id, "group_id": str(record["id"])}
            for business_id in self.business_ids()
            for record in self.records("business_asset_groups", business_id)
        ]


class DirectoryBackedStream(GraphStream):
    """A stream whose records double as the partition list of others (read once, cached)."""

    partition_kind = "business"

    def source_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        business_id = (context or {}).get("business_id")
        yield from self._tap.directory.records(self.name, business_id)
        self._tap.directory.release(self.name, business_id)
