"""What to read from Graph, in plain values: `EdgeRead` (one node or edge of one partition) and
`EdgePolicy` (how a stream asks, and what the run taught it), and the shape of Graph's pages.

Everything here is data a worker thread is handed; the client (graph.py) sends it, the
recovery decision (recovery.py) reads it, Page tokens (page_tokens.py) key on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tap_meta_bm.errors import parse_body

#: Paging parameters worth carrying from `paging.next` when an edge has no `cursors.after`.
PAGING_PARAMS = frozenset({"after", "offset", "until", "since", "__after_id", "__paging_token"})
Page = dict[str, Any]

#: The column of every full-table record that names the read which produced it (the run's
#: `read_id`). A warehouse keeps a full-table stream's rows from its latest complete read on
#: (stream `complete_reads`), whatever its loader does with ACTIVATE_VERSION.
READ_ID = "_read_id"
#: The largest page the tap asks for: Graph's largest commonly accepted `limit` (edges cut
#: larger ones down, or refuse them). The default of `page_size`, its bound, and the page of
#: the tap's own reads (report results, the doctor's probes).
MAX_PAGE_SIZE = 500


class EdgePolicy:
    """How one stream asks Graph, and what the run taught it; shared by its threads.

    `fields`, `keys` and `replication_key` are Graph names; `columns` maps a Graph name to
    the column it fills, for messages; `added_columns` name the values each read adds to its
    records; `optional_params` may be left out if Graph refuses them, and `optional_fields`
    (fields that need permissions of their own) if Graph refuses the edge while asked for them.
    """

    def __init__(self, *, stream: str, fields: tuple[str, ...], columns: Mapping[str, str],
                 paged: bool, page_size: int, added_columns: tuple[str, ...] = (),
                 keys: frozenset[str] = frozenset(),
                 replication_key: str | None = None,
                 optional_params: Mapping[str, str] | None = None,
                 optional_fields: Mapping[str, str] | None = None,
                 access_hint: str | None = None, reports_usage: bool = True,
                 decode: Callable[[bytes], Any] = parse_body,
                 explicit_fields: frozenset[str] = frozenset()) -> None:
        self.stream = stream
        #: Fields the user named (a custom insights report's): Graph refusing one is fatal,
        #: with a message naming it, rather than a column silently null.
        self.explicit_fields = explicit_fields
        #: A body to its JSON (None when not JSON): an edge may turn Graph's text into
        #: numbers in the same pass (insights).
        self.decode = decode
        #: Its answers' x-fb-ads-insights-throttle counts (governor.observe).
        self.reports_usage = reports_usage
        self.paged = paged
        self.keys = keys
        self.replication_key = replication_key
        self.added_columns = added_columns
        self.optional_params = dict(optional_params or {})
        self.optional_fields = dict(optional_fields or {})
        self.access_hint = access_hint
        self._fields = fields
        self._columns = dict(columns)
        self._lock = threading.Lock()
        self.limit = page_size
        self.dropped: list[str] = []
        self.refused: set[str] = set()
        #: Set once Graph asked this stream's Page edges for the Page's own token.
        self.wants_page_token = False
        self.fields_param = ",".join(fields)

    @classmethod
    def plain(cls, stream: str, fields: tuple[str, ...] = (), *, paged: bool = False,
              page_size: int = 1) -> EdgePolicy:
        """A read the tap itself builds (a Page token, a report job, a doctor probe): no
        schema behind it, so no columns to name."""
        return cls(stream=stream, fields=fields, columns={}, paged=paged, page_size=page_size)

    def probe(self) -> EdgePolicy:
        """The same read, one row at a time (the doctor's probes)."""
        return EdgePolicy(stream=self.stream, fields=tuple(f for f in self._fields
                                                           if f not in self.dropped),
                          columns=self._columns, paged=self.paged, page_size=1,
                          added_columns=self.added_columns,
                          optional_params=self.optional_params,
                          optional_fields=self.optional_fields)

    def column(self, graph_name: str) -> str:
        return self._columns.get(graph_name, graph_name)

    def query(self, read: EdgeRead, position: Mapping[str, str] | None) -> dict[str, str]:
        """The query one request of `read` sends now (credentials aside)."""
        fields = self.fields_param
        extra = [name for name in read.edge_fields if name not in self.dropped]
        if extra:
            fields = ",".join([*filter(None, [fields]), *extra])
        query = {"fields": fields} if fields else {}
        if self.paged:
            query["limit"] = str(self.limit)
        refused = self.refused
        query.update((k, v) for k, v in read.params if k not in refused)
        if position:
            query.update(position)
        return query

    def shrink(self, sent_limit: int) -> int | None:
        """Halve the page size that failed; the new size, or None when another request sent
        at the same size already halved it (concurrent requests fail together)."""
        with self._lock:
            if self.limit <= sent_limit // 2:
                return None
            self.limit = max(1, sent_limit // 2)
            return self.limit

    def drop(self, name: str) -> bool:
        """Leave a field out from now on; True the first time."""
        with self._lock:
            if name in self.dropped:
                return False
            self.dropped.append(name)
            self.fields_param = ",".join(f for f in self._fields if f not in self.dropped)
            return True

    def refuse(self, name: str) -> bool:
        """Leave an optional parameter out from now on; True the first time."""
        with self._lock:
            first = name not in self.refused
            self.refused = self.refused | {name}
            return first

    def want_page_token(self) -> bool:
        """From now on Page edges are read with Page tokens; True the first time."""
        with self._lock:
            first, self.wants_page_token = not self.wants_page_token, True
            return first


@dataclass(frozen=True, eq=False, slots=True)
class EdgeRead:
    """One node or edge to read, in plain values: what a worker thread is handed. (A stream
    holds one per partition while it runs: thousands, hence the slots.)"""

    path: str  # below the version root, e.g. /act_123/campaigns
    params: tuple[tuple[str, str], ...]  # the edge's own parameters (filtering, business ...)
    meter_key: str  # the object Meta meters it against (governor.py)
    policy: EdgePolicy
    #: The values the tap adds to each record it returns, for `policy.added_columns`.
    column_values: tuple[Any, ...] = ()
    page_id: str | None = None  # a Page edge: it may be read with the Page's own token
    #: POST only to create what Graph then reads (report jobs): parameters go in the body.
    method: str = "GET"
    #: Whose token reads it: None for the system user's; else the name a partner's token is
    #: known by in the client (`GraphClient.add_credential`), never the token itself.
    credential: str | None = None
    #: Fields this edge alone reads, asked beside the stream's (EdgeVariant.edge_fields);
    #: one Graph stops reading is dropped for the whole stream, as any field is.
    edge_fields: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """For messages: no URL, no secrets."""
        return f"{self.policy.stream} edge {self.path}"

    @property
    def partition(self) -> dict[str, str] | None:
        """The rows this read answers for, by the columns it adds to them (its partition's
        and variant's, not `_read_id`); None for a read without any: the whole stream."""
        found = {name: str(value) for name, value in
                 zip(self.policy.added_columns, self.column_values, strict=False)
                 if value is not None and name != READ_ID}
        return found or None


def next_position(page: Page) -> dict[str, str] | None:
    """Where the next page starts, or None at the end; only `paging.next`'s absence ends an
    edge (a page may be short or empty and still have one)."""
    paging = page.get("paging") if isinstance(page, dict) else None
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    after = (paging.get("cursors") or {}).get("after")
    if after:
        return {"after": after}
    # Offset- or time-paged edges put their position only in the `next` URL.
    position = {k: v for k, v in parse_qsl(urlsplit(str(paging["next"])).query)
                if k in PAGING_PARAMS}
    return position or None


def records_of(page: Page) -> list[dict[str, Any]]:
    data = page.get("data") if isinstance(page, dict) else None
    return data if isinstance(data, list) else []
