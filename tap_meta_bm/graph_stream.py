"""GraphStream: what a stream declares, turned into plain reads for the Graph client.

A stream declares its edge (`path`, or `variants` for several edges read into one stream), its
schema, where its partitions come from (`partitions_from`) and, where it needs them, its own
parameters (`edge_params`). From those this module builds one `EdgeRead` per edge and
partition, on the main thread; worker threads hand them to the `GraphClient` and return plain
records. What reaches the SDK goes through its public hooks: `get_records` yields a
partition's records in their order, turned into what the warehouse expects (clearer names,
RFC 3339 UTC timestamps). RECORD messages leave through the SDK's record path or the fast
path beside it (sdk_surface.py), STATE through the run's checkpoints (state.py); both on the
main thread, so a STATE only ever covers records already written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import metrics
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import Metadata, MetadataMapping
from typing_extensions import override

from tap_meta_bm.batch import MAX_BATCH, FirstPageBatcher
from tap_meta_bm.concurrency import PartitionReader
from tap_meta_bm.directory import ACCOUNT_PARTITIONS, PartitionKind
from tap_meta_bm.edges import READ_ID, EdgePolicy, EdgeRead
from tap_meta_bm.progress import Progress
from tap_meta_bm.run import RunStream, SyncRun
from tap_meta_bm.sdk_surface import FastRecordWriting, IndexedStateManager, quiet_sdk_lines
from tap_meta_bm.state import (
    TABLE_VERSION,
    UNREAD_PARTITIONS,
    UnreadPartition,
    carry_unread,
    partition_key,
)

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

#: Inside a partition, the clock is looked at for a progress line once per this many records.
PROGRESS_EVERY_RECORDS = 1000
READ_ID_SCHEMA: dict[str, Any] = {
    "type": ["integer"],
    "description": "The read that produced this row: the millisecond its run started. "
                   "Rows from the stream's latest complete read on (complete_reads) are what "
                   "Graph lists now; older ones were revoked or removed since.",
}


def to_rfc3339(value: Any) -> Any:
    """Graph `2024-05-01T12:34:56+0000` or a unix integer -> `2024-05-01T12:34:56+00:00`."""
    if isinstance(value, str):
        if len(value) == 24 and value.endswith("+0000"):  # Graph's usual form: no parsing
            return value[:19] + "+00:00"
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return value


def as_integer(value: str) -> int | str:
    """`"12345"` -> 12345; anything that is not an integer's digits stays as it came."""
    digits = value.removeprefix("-")
    return int(value) if digits.isascii() and digits.isdigit() else value


@dataclass(frozen=True)
class EdgeVariant:
    """One of several Graph edges read into one stream, and the columns that tell them apart;
    `edge_fields` are schema properties only this edge reads (fields Meta's edge reference
    adds to the nodes it returns, such as `permitted_tasks` on `client_ad_accounts`)."""

    path: str
    columns: dict[str, str] = field(default_factory=dict)
    edge_fields: tuple[str, ...] = ()


@dataclass
class _StreamPlan:
    """Every partition's reads, built once on the main thread, and the batcher of their first
    pages.

    Keyed by the partition objects themselves (the SDK and the reader hand back the
    directory's own partition dicts): thousands of partitions, one small key each."""

    reads: dict[int, list[EdgeRead]]
    build: Callable[[Context | None], list[EdgeRead]]
    batcher: FirstPageBatcher[EdgeRead] | None = None

    def reads_of(self, context: Context | None) -> list[EdgeRead]:
        """A partition's reads (built now for a context that is not one of the partitions)."""
        reads = self.reads.get(id(context))
        return reads if reads is not None else self.build(context)


#: Every stream class with a name of its own, in the order declared (streams/__init__.py
#: imports the families in turn): what `declared_streams` orders.
_DECLARED: list[type[GraphStream]] = []


def declared_streams() -> tuple[type[GraphStream], ...]:
    """Every declared stream, in sync order: the directory's streams first (their records
    are the partitions of the others, read once and then let go), the businesses before
    what is partitioned by them before the rest; each group in declaration order."""
    def order(stream: type[GraphStream]) -> tuple[bool, int]:
        kind = stream.partitions_from
        depth = 0 if kind is None else 1 if kind is PartitionKind.BUSINESS else 2
        return not issubclass(stream, DirectoryStream), depth

    return tuple(sorted(_DECLARED, key=order))


def stream_name(stream: type[GraphStream]) -> str:
    """A declared stream's name (the SDK makes `name` an instance attribute)."""
    return str(stream.__dict__["name"])


class GraphStream(FastRecordWriting, RunStream):
    """Base of every stream: one Graph edge (or a few variants of one), paged by cursor."""

    #: Path below the version root; `{business_id}`-style names come from the partition.
    path: ClassVar[str] = ""
    #: Several edges into one stream (owned + client ...); overrides `path` when set.
    variants: ClassVar[tuple[EdgeVariant, ...]] = ()
    #: What one partition is; None for a stream read once, without partitions.
    partitions_from: ClassVar[PartitionKind | None] = None
    #: Columns the tap fills from the partition or variant, never requested from Graph.
    context_columns: ClassVar[tuple[str, ...]] = ()
    #: Columns the tap computes from the record itself (in `shape`), never requested.
    computed_columns: ClassVar[tuple[str, ...]] = ()
    #: The edge is known to want the Page's own token (the partition names the page).
    page_token: ClassVar[bool] = False
    #: What a refusal of this edge most likely lacks, for the skip warning.
    access_hint: ClassVar[str | None] = None
    #: Schema name -> Graph field name, where the warehouse wants a clearer name.
    graph_names: ClassVar[dict[str, str]] = {}
    #: Parameters Graph may refuse on this edge, and what reading without them means.
    optional_params: ClassVar[dict[str, str]] = {}
    #: Fields that need permissions of their own, and which: a permission error while they
    #: are asked for costs them, never the edge.
    optional_fields: ClassVar[dict[str, str]] = {}
    #: Columns read even when deselected, for what the run itself needs of them (records
    #: still leave without them).
    always_fields: ClassVar[tuple[str, ...]] = ()
    #: What one partition is, for the log.
    partitions_named: ClassVar[str] = "partitions"
    #: Full-table streams keep no per-partition state (and put no partition keys in records).
    state_partitioning_keys: ClassVar[list[str] | None] = []
    #: Read with the token of the partner business the partition names (`partner_tokens`),
    #: not the system user's.
    reads_as_partner: ClassVar[bool] = False
    #: A stream of our assets' grants to partners: (asset type, partition key of the asset).
    #: With partners' tokens the directory reads it, and the stream emits what it read.
    grants_to_partners: ClassVar[tuple[str, str] | None] = None

    #: Records hold only what `fields=` asked for (derived from this schema) plus the context
    #: columns of this schema, in the JSON types Graph sends and the schema declares; the
    #: SDK's per-value conformance pass found nothing to change and was a third of the CPU.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    #: False for a stream the tap makes from the config (an insights report), which is not
    #: one of the streams declared in `tap_meta_bm.streams`.
    listed: ClassVar[bool] = True

    @override
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and cls.__dict__.get("listed", True):
            _DECLARED.append(cls)
        # `_read_id` is declared here, once, for every full-table stream that declares a
        # schema (the SDK types `schema` as a property, which stream classes shadow).
        schema = cls.__dict__.get("schema")
        incremental = isinstance(getattr(cls, "replication_key", None), str)
        if isinstance(schema, dict) and not incremental:
            setattr(cls, "schema", {  # noqa: B010
                **schema, "properties": {**schema["properties"], READ_ID: READ_ID_SCHEMA}})

    def __init__(self, tap: Tap, *, run: SyncRun) -> None:
        super().__init__(tap)
        self.run = run
        quiet_sdk_lines(tap.name, self.name)
        self._reader: PartitionReader | None = None
        self._last_partition: int | None = None
        self._state_index: IndexedStateManager | None = None
        self._dry_run_records = 0
        self._counted = 0  # records_written already in the summary
        self._progress: Progress | None = None
        self._partitions_done = 0

    @property
    def paged(self) -> bool:
        """False for single-object reads such as `/{business_id}`."""
        return True

    @property
    def full_table(self) -> bool:
        """Every run reads the whole of it: no bookmark, and its rows carry `_read_id`."""
        return not self.replication_key

    @property
    def added_columns(self) -> tuple[str, ...]:
        """Columns the tap adds to every record of a read, never requested from Graph."""
        return (*self.context_columns, READ_ID) if self.full_table else self.context_columns

    @property
    @override
    def metadata(self) -> MetadataMapping:
        """A stream off by default is off as a whole: selecting it selects its columns (the
        SDK would leave every column of it off too). `_read_id` is always written, like a
        key: without it a warehouse cannot tell current rows from revoked ones."""
        metadata = super().metadata
        if not self.selected_by_default:
            for breadcrumb, entry in metadata.items():
                if breadcrumb:
                    entry.selected_by_default = True
        read_id = metadata.get(("properties", READ_ID))
        if read_id is not None:
            read_id.inclusion = Metadata.InclusionType.AUTOMATIC
        return metadata

    @property
    @override
    def state_manager(self) -> IndexedStateManager:
        if self._state_index is None:
            self._state_index = IndexedStateManager(
                tap_name=self.tap_name, stream_name=self.name, tap_state=self.tap_state,
                state_partitioning_keys=self.state_partitioning_keys,
                is_sorted=self.is_sorted, check_sorted=self.check_sorted)
        return self._state_index

    # -- what to ask Graph ------------------------------------------------------------------
    @cached_property
    def requested_fields(self) -> tuple[str, ...]:
        """`fields=`: the selected properties (keys and replication key always), in Graph
        names. Built when first needed, after the catalog's selection is applied."""
        edge_only = {name for variant in self.variants for name in variant.edge_fields}
        return tuple(name for name in self._selected_fields() if name not in edge_only)

    def _selected_fields(self) -> tuple[str, ...]:
        mask = self.mask
        always = {*self.primary_keys, self.replication_key, *self.always_fields}
        names = [
            self.graph_names.get(name, name)
            for name in self.schema["properties"]
            if name not in self.added_columns and name not in self.computed_columns
            and (name in always or mask.get(("properties", name), False))
        ]
        return tuple(dict.fromkeys(names))

    @property
    def graph_fields(self) -> str:
        """`fields=` as it is sent now (less any field Graph stopped reading this run)."""
        return self.policy.fields_param

    @property
    def page_size(self) -> int:
        """The first `limit` a page is asked with (the `page_size` setting)."""
        return int(self.config["page_size"])

    @cached_property
    def policy(self) -> EdgePolicy:
        def graph(name: str) -> str:
            return self.graph_names.get(name, name)

        policy = EdgePolicy(
            stream=self.name, fields=self.requested_fields,
            columns={graph(name): name for name in self.schema["properties"]},
            keys=frozenset(graph(k) for k in self.primary_keys) - set(self.computed_columns),
            replication_key=graph(self.replication_key) if self.replication_key else None,
            paged=self.paged, page_size=self.page_size,
            added_columns=self.added_columns,
            optional_params=self.optional_params, optional_fields=self.optional_fields,
            access_hint=self.access_hint)
        if self.page_token:
            policy.want_page_token()
        return policy

    def edge_params(self, context: Context | None) -> dict[str, Any]:
        """Parameters particular to one stream's edge (filters, `business=` ...)."""
        return {}

    def extra_columns(self, context: Context | None) -> dict[str, Any]:
        """Context columns whose values are not the partition's or the variant's own."""
        return {}

    @staticmethod
    def meter_key(context: Context | None) -> str:
        """The object Meta meters this request against (see governor.py)."""
        context = context or {}
        for name in ("account_id", "page_id", "business_id"):
            if context.get(name):
                return str(context[name])
        return "me"

    def edge_reads(self, context: Context | None) -> list[EdgeRead]:
        """What one partition reads: each edge variant with its path, parameters, columns."""
        values = dict(context or {})
        params = tuple((k, str(v)) for k, v in self.edge_params(context).items())
        meter = self.meter_key(context)
        page_id = values.get("page_id")
        reads = []
        for variant in self.variants or (EdgeVariant(self.path),):
            columns = {**values, **variant.columns, **self.extra_columns(context),
                       READ_ID: self.run.read_id}
            reads.append(EdgeRead(
                variant.path.format(**values), params, meter, self.policy,
                tuple(columns.get(name) for name in self.added_columns),
                page_id=str(page_id) if page_id else None,
                credential=str(values["business_id"]) if self.reads_as_partner else None,
                edge_fields=self._edge_fields.get(variant.path, ())))
        return reads

    @cached_property
    def _edge_fields(self) -> dict[str, tuple[str, ...]]:
        """Per variant path, its own fields that are selected (built once, not per
        partition: the selection is fixed once the stream reads)."""
        selected = set(self._selected_fields())
        return {variant.path: tuple(f for f in variant.edge_fields if f in selected)
                for variant in self.variants if variant.edge_fields}

    # -- records ----------------------------------------------------------------------------
    @property
    @override
    def partitions(self) -> list[dict[str, Any]] | None:
        if self.partitions_from is None:
            return None
        return self.run.directory.partitions(self.partitions_from)

    @property
    def per_ad_account(self) -> bool:
        """Whether each record belongs to one ad account: account shards split the stream
        (`account_shard`), and only shard 0 syncs the others."""
        return self.partitions_from in ACCOUNT_PARTITIONS

    def read_now(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """All records of one partition, read on this thread (no batches, no workers)."""
        return self._read_in_turn(self.edge_reads(context), None)

    def source_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Where a partition's records come from: prefetched concurrently, read now, or (a
        grant stream the partners' reads need) read once through the directory."""
        if self.partitions_from is not None and not context:
            return iter(())  # a partitioned stream with no partitions (a business with no pages)
        if context is None:
            return self.read_now(None)
        if self.grants_to_partners and self.run.directory.reads_grants:
            return iter(self.run.directory.records(self.name, dict(context)))
        if self._reader is None:
            partitions = self.partitions or []
            self._last_partition = id(partitions[-1]) if partitions else None
            self._reader = self.make_reader(partitions)
        return self._reader.records(context)

    def _read_in_turn(self, reads: list[EdgeRead], batcher: FirstPageBatcher[EdgeRead] | None
                      ) -> Iterator[dict[str, Any]]:
        for read in reads:
            yield from self.run.client.records(read, batcher)

    def make_reader(self, partitions: list[dict[str, Any]]) -> PartitionReader:
        """The reader of this stream's partitions (concurrency.py), made when the first one
        is asked for: their edges, first pages batched."""
        self.starting(partitions)
        plan = _StreamPlan({id(p): self.edge_reads(p) for p in partitions}, self.edge_reads)
        workers = int(self.config["max_workers"])
        if len(partitions) > 1:
            client = self.run.client
            plan.batcher = FirstPageBatcher(
                [read for partition_reads in plan.reads.values() for read in partition_reads],
                prepare=lambda read: client.prepare(read, None),
                send=lambda pages: client.send_batch(self.name, pages),
                may_batch=client.may_batch,
                # One worker means one call at a time: a batch's calls run concurrently at Meta.
                size=MAX_BATCH if workers > 1 else 1)
        return PartitionReader(
            lambda partition: self._read_in_turn(plan.reads_of(partition), plan.batcher),
            partitions, workers, page_records=self.policy.limit if self.paged else 1)

    def starting(self, partitions: list[dict[str, Any]]) -> None:
        """Main-thread work before any partition of the stream is read."""

    def start_early(self) -> None:
        """Work that may start before the stream's turn, once the run has begun (report jobs
        run at Meta while the other streams are read); stopped by `stop_reading`."""

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        self.run.before_first_record()
        if self._progress is None:  # the stream starts: its minute starts now
            self._progress = Progress(self.logger, self.name,
                                      len(self.partitions or []) or 1, self.partitions_named)
        # Partitions before this one are finalized by now: the state covers what was emitted,
        # and state.py decides whether it is worth writing.
        self.write_state()
        shape = self.shape
        # A dry run (`--test`) wants this many records of the stream in all: stop there,
        # rather than let the SDK abort the stream with an error line.
        limit = self.ABORT_AT_RECORD_COUNT
        if limit is not None:  # a dry run has no end the tap sees: each stream's end writes
            self.run.checkpoints.eager = True
        if limit is not None and self._dry_run_records >= limit:
            self.stop_reading()
            return
        try:
            for record in self.source_records(context):
                if limit is not None and self._dry_run_records >= limit:
                    self.stop_reading()
                    break
                self._dry_run_records += 1
                if not self._dry_run_records % PROGRESS_EVERY_RECORDS:
                    self.report_progress()  # a long partition says so too
                yield shape(record)
            self._partitions_done += 1
            self.report_progress()
        except BaseException as failure:
            self.stop_reading()
            self.write_state(now=True)
            if not isinstance(failure, GeneratorExit):
                self.run.failed()  # the run ends here: so does what others started
            raise
        finally:
            # What was written, not what was read: duplicates at a bookmark are read and
            # dropped, and stream maps may filter records out.
            self.run.summary.add(self.name, records=self.records_written - self._counted)
            self._counted = self.records_written
        if self._reader is not None and id(context) == self._last_partition:
            self.stop_reading()  # the stream is done: its threads end, its buffers go

    def report_progress(self) -> None:
        """One INFO line a minute while the stream runs longer than that (progress.py)."""
        if self._progress is not None:
            self._progress.report(self._partitions_done, self.records_written,
                                  self.progress_detail())

    def progress_detail(self) -> str:
        """What else a progress line says of the stream's work (report jobs)."""
        return ""

    def stop_reading(self) -> None:
        """End every thread this stream's reading started (done, stopped early, failed)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.stop()

    def shape(self, row: dict[str, Any]) -> dict[str, Any]:
        """A Graph record as the warehouse wants it: clearer names, RFC 3339 UTC times (a
        unix 0 is Graph's "not set": null), and integers where Graph sends digits as text
        (money, in the minor units of the account's currency)."""
        for schema_name, graph_name in self.graph_names.items():
            if graph_name in row:
                row[schema_name] = row.pop(graph_name)
        for name in self._timestamp_properties:
            value = row.get(name)
            if value is not None:
                row[name] = None if value == 0 else to_rfc3339(value)
        for name in self._integer_properties:
            value = row.get(name)
            if isinstance(value, str):
                row[name] = as_integer(value)
        return row

    @override
    def generate_child_contexts(self, record: dict[str, Any], context: Context | None
                                ) -> Iterable[Context | None]:
        """None: no stream of this tap is a child stream (partitions come from the
        Directory), and the SDK's default copies the context for every record."""
        return ()

    @cached_property
    def _integer_properties(self) -> tuple[str, ...]:
        return tuple(name for name, prop in self.schema["properties"].items()
                     if "integer" in prop.get("type", ()))

    @cached_property
    def _timestamp_properties(self) -> tuple[str, ...]:
        return tuple(name for name, prop in self.schema["properties"].items()
                     if prop.get("format") == "date-time")

    def write_state(self, *, now: bool = False) -> None:
        """Offer the state to the run's checkpoints (state.py), or with `now` write it; the
        SDK's protocol of `is_flushed` (sdk_surface.py, 6)."""
        manager = self.state_manager
        if now or not manager.is_flushed:
            _ = self.stream_state  # the stream's entry exists in every STATE, as the SDK's do
            checkpoints = self.run.checkpoints
            if now:
                checkpoints.flush(self.tap_state)
            else:
                checkpoints.write_state(self.tap_state)
            manager.is_flushed = True

    @override
    def log_sync_costs(self) -> None:
        # The SDK's `http_request_count` metric, one point per stream: its REST streams log
        # one per partition (thousands per run, each tagged with a partition that, with
        # partitions read concurrently, does not describe the requests it counts).
        sent = self.run.summary.tally(self.name).requests
        if sent:
            endpoint = self.path or ", ".join(variant.path for variant in self.variants)
            with metrics.http_request_counter(self.name, endpoint) as counter:
                counter.increment(sent)
        self._carry_unread()
        self._activate_version()
        super().log_sync_costs()  # RunStream: the run hears the stream is done

    @cached_property
    def unread_partitions(self) -> list[dict[str, str]] | None:
        """The partitions this run did not read completely: those of its own skipped reads,
        and those below what the directory could not list (`Directory.unread`); None when
        the whole stream is in doubt (a skip naming no partition). Asked once the stream
        has synced."""
        own = self.run.summary.tally(self.name).unread
        below = self.run.directory.unread(self.partitions_from) if self.partitions_from \
            else []
        found: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        for partition in [*own, *below]:
            if not partition:
                return None
            found.setdefault(partition_key(partition), dict(partition))
        return list(found.values())

    @property
    def read_complete(self) -> bool:
        """Whether this run read all of the stream but its `unread_partitions`: selected,
        not a dry run (`--test`), no skip that leaves the whole stream in doubt. Asked once
        every stream has synced (a failed run gets no further), it gates `partial_reads`
        (and with `read_whole`, `complete_reads`): a row the run could not read is never
        taken for revoked."""
        return (self.selected and self.ABORT_AT_RECORD_COUNT is None
                and self.unread_partitions is not None)

    def finished_read(self) -> GraphStream | None:
        """This stream as a finished full-table read (`SyncRun.finished_reads`), or None."""
        return self if self.full_table and self.read_complete else None

    @property
    def read_whole(self) -> bool:
        """Complete with no partition unread: a complete read (`complete_reads`), and what
        ACTIVATE_VERSION needs, which removes every row the run did not write."""
        return self.read_complete and not self.unread_partitions

    @override
    def table_version(self, sdk_version: int) -> int:
        """The run's microsecond, and above the last version this stream's state holds: a
        clock set back never gives a later run a smaller version, whose ACTIVATE_VERSION
        would leave the earlier run's rows (revoked grants among them) live."""
        last = self.stream_state.get(TABLE_VERSION)
        return max(self.run.table_version, last + 1 if isinstance(last, int) else 0)

    def _activate_version(self) -> None:
        """After a run that succeeded (the SDK calls `log_sync_costs` only then), tell the
        loader that this full-table stream's rows are all there is (see sdk_surface.py, 4),
        unless some of it was not read: a skipped edge or a dry run is not a revocation."""
        version = self.release_held_version(write=self.read_whole)
        if version is None:
            return
        # Its rows are in the warehouse with it, written or not: the next run's is above.
        self.stream_state[TABLE_VERSION] = version
        if not self.read_whole and self.ABORT_AT_RECORD_COUNT is None:
            self.logger.warning(
                "%s: not all of it was read, so no ACTIVATE_VERSION this run: rows the run "
                "could not read are kept, not marked deleted%s", self.name,
                " (partial_reads names them for the warehouse)" if self.read_complete
                else "")

    @cached_property
    def still_unread(self) -> list[UnreadPartition] | None:
        """After a complete read: its unread partitions, each since the first of the reads
        in a row that left it unread (the stream's state says which those were). None for
        a read that was not complete: it says nothing of them."""
        if not (self.full_table and self.read_complete):
            return None
        return carry_unread(self.stream_state.get(UNREAD_PARTITIONS),
                            self.unread_partitions or [], self.run.read_id)

    def _carry_unread(self) -> None:
        """Remember the partitions still unread in the stream's state, and say so in the
        summary."""
        unread = self.still_unread
        if unread is None:
            return
        if unread:
            self.stream_state[UNREAD_PARTITIONS] = [entry.as_state() for entry in unread]
        else:
            self.stream_state.pop(UNREAD_PARTITIONS, None)
        self.run.summary.partitions_unread(self.name, [describe_unread(e) for e in unread])


def describe_unread(entry: UnreadPartition) -> str:
    """`account_id 2, business_id 1: since 2026-12-01 06:00 UTC (3 reads)`."""
    since = datetime.fromtimestamp(entry.since / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = ", ".join(f"{name} {value}" for name, value in entry.partition.items())
    return f"{where}: unread since {since} ({entry.reads} read{'s' if entry.reads > 1 else ''})"


class DirectoryStream(GraphStream):
    """A stream whose records double as the partition list of others (read once, cached)."""

    partitions_from: ClassVar[PartitionKind | None] = PartitionKind.BUSINESS

    @override
    def source_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        if not context and self.partitions is not None:
            return  # partitioned, with no partitions (a business with no pages)
        partition = dict(context or {})
        yield from self.run.directory.records(self.name, partition)
        self.run.directory.release(self.name, partition)


class AdAccountEdgeStream(GraphStream):
    """A full-table edge below `/act_{account_id}`, read once per ad account."""

    partitions_from: ClassVar[PartitionKind | None] = PartitionKind.AD_ACCOUNT
    partitions_named = "ad accounts"
    context_columns = ("business_id", "account_id")
