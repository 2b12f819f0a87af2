"""The businesses, ad accounts, pages and asset groups a run covers, read once per run.

Streams below an asset (campaigns below an ad account, assignments below a page ...) are
partitioned by it. The lists come from the same reads that feed the `businesses`,
`ad_accounts`, `pages` and `business_asset_groups` streams: those streams emit the cached
records, so no edge is read twice whichever streams are selected. The directory reads those
edges itself, through the run's GraphClient: what it takes from a stream is its declaration
made into reads (`edge_reads`, plain values), never the stream's own reading.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_meta_bm.edges import MAX_PAGE_SIZE, EdgePolicy, EdgeRead
from tap_meta_bm.errors import AssetSkipped, ConfigError
from tap_meta_bm.ids import bare_account_id

if TYPE_CHECKING:
    from tap_meta_bm.graph import GraphClient
    from tap_meta_bm.shards import AccountShard
    from tap_meta_bm.summary import RunSummary

Record = dict[str, Any]
Partition = dict[str, Any]
#: What is kept of a directory record once its stream has emitted it: the id for partitions,
#: an ad account's time zone for the calendar days of its insights.
KEPT = ("id", "timezone_name")


class PartitionKind(enum.Enum):
    """What one partition of a stream is."""

    BUSINESS = "business"  # each configured (or reachable) business
    AD_ACCOUNT = "ad_account"  # each ad account once, with the first business that lists it
    BUSINESS_AD_ACCOUNT = "business_ad_account"  # each (business, ad account) pair
    BUSINESS_PAGE = "business_page"  # each (business, page) pair
    PAGE = "page"  # each page once, with the first business that lists it
    ASSET_GROUP = "asset_group"  # each (business, business asset group)
    BUSINESS_PIXEL = "business_pixel"  # each (business, pixel) pair
    BUSINESS_CATALOG = "business_catalog"  # each (business, product catalog) pair
    LEAD_FORM = "lead_form"  # each lead form of each page
    BUSINESS_PERSON = "business_person"  # each business user and system user of a business
    PARTNER = "partner"  # each partner business whose token (`partner_tokens`) Graph took
    PARTNER_ASSET = "partner_asset"  # each of our assets shared with such a partner


#: Partitions that are one ad account each: their streams' records belong to one account.
ACCOUNT_PARTITIONS = frozenset({PartitionKind.AD_ACCOUNT, PartitionKind.BUSINESS_AD_ACCOUNT})


#: A directory stream's reads of one partition (its `edge_reads`): what the directory reads.
EdgeReads = Callable[[Mapping[str, Any] | None], list[EdgeRead]]
#: The streams read with partners' tokens: what is incomplete when a token or a grant is not.
PARTNER_STREAMS = ("partner_business_users", "partner_system_users", "partner_assignments")


@dataclass(frozen=True)
class GrantSource:
    """A stream of our assets' grants to partners (`/{asset}/agencies`): its partitions, and
    the asset each names."""

    stream: str
    kind: PartitionKind
    asset_type: str
    asset_key: str

    def asset_id(self, partition: Mapping[str, Any]) -> str:
        asset = str(partition[self.asset_key])
        return f"act_{asset}" if self.asset_type == "AD_ACCOUNT" else asset


class Directory:
    """Cached records of the directory-like streams, and the partitions built from them."""

    def __init__(self, client: GraphClient, business_ids: list[str],
                 account_ids: frozenset[str], logger: logging.Logger,
                 shard: AccountShard | None = None, partner_credentials: tuple[str, ...] = (),
                 summary: RunSummary | None = None) -> None:
        self._client = client
        #: The names the client knows partners' tokens by, until their businesses are known.
        self._partner_credentials = partner_credentials
        self._summary = summary
        self._grant_sources: list[GrantSource] = []
        #: Partner tokens Graph refused when asked whose they are, and what it said.
        self.refused_partner_tokens: dict[str, str] = {}
        self._business_ids = business_ids
        self._account_ids = account_ids
        self._shard = shard
        self._log = logger
        #: Configured account_ids the businesses do not have: said once per run, however
        #: many streams ask for the accounts.
        self._missing_said = False
        self._readable: list[str] | None = None
        self._sources: dict[str, EdgeReads] = {}
        self._cache: dict[tuple[str, tuple], list[Record]] = {}
        self._partitions: dict[PartitionKind, list[Partition]] = {}
        #: Directory reads a skip left incomplete, by cache key: the partition they were for.
        self._unread: dict[tuple[str, tuple], Partition] = {}
        #: Of those, the ones each kind's partitions were built from (see `unread`); and the
        #: ones touched by the kind being built now.
        self._unread_of: dict[PartitionKind, dict[tuple[str, tuple], Partition]] = {}
        self._touched: dict[tuple[str, tuple], Partition] | None = None
        self._timezones: dict[str, str] | None = None

    def register(self, stream_name: str, reads: EdgeReads) -> None:
        """Hold the records of `stream_name`, read with `reads(partition)`."""
        self._sources[stream_name] = reads

    def register_grants(self, source: GrantSource, reads: EdgeReads) -> None:
        """A stream of grants to partners: with partners' tokens, the directory reads it (once,
        for the stream too) to know which of our assets each partner was shared."""
        self.register(source.stream, reads)
        self._grant_sources.append(source)

    @property
    def reads_grants(self) -> bool:
        """Whether the grant streams are read through the directory (partners' tokens given)."""
        return bool(self._partner_credentials)

    def records(self, stream_name: str, context: Partition | None) -> list[Record]:
        """The records `stream_name` yields for one partition (read on first use)."""
        key = (stream_name, tuple(sorted((context or {}).items())))
        if key not in self._cache:
            self._cache[key] = self._read(key, self._sources[stream_name](context or None))
        if key in self._unread and self._touched is not None:
            self._touched[key] = self._unread[key]
        return self._cache[key]

    def _read(self, key: tuple[str, tuple], reads: list[EdgeRead]) -> list[Record]:
        """What the reads answer; a skipped one makes the partition `key` unread."""
        out: list[Record] = []
        for read in reads:
            try:
                for record in self._client.records_or_skip(read):
                    out.append(record)
            except AssetSkipped as skipped:
                self._client.note_skipped(read, skipped)
                self._unread[key] = dict(key[1])
        return out

    def unread(self, kind: PartitionKind) -> list[Partition]:
        """What the partitions of `kind` may lack: the directory's partitions it could not
        read completely (`{"business_id": ...}` for one business's ad accounts; `{}` when
        the whole list is in doubt). A stream of that kind read every partition it was
        given, and still keeps its rows below those as last read."""
        self.partitions(kind)
        return list(self._unread_of[kind].values())

    def release(self, stream_name: str, context: Partition | None) -> None:
        """Keep only the ids once the stream itself has emitted its records: partitions need
        nothing else, and a large business must not hold every ad account and page twice."""
        key = (stream_name, tuple(sorted((context or {}).items())))
        if key in self._cache:
            self._cache[key] = [{name: record[name] for name in KEPT if name in record}
                                for record in self._cache[key]]

    def _of_business(self, stream_name: str, business_id: str) -> list[Record]:
        return self.records(stream_name, {"business_id": business_id})

    def business_ids(self) -> list[str]:
        """The businesses the run covers: those configured that the token can read, or
        every business of the token."""
        if not self._business_ids:
            return [str(r["id"]) for r in self.records("businesses", None)]
        if self._readable is None:
            self._readable = [b for b in self._business_ids
                              if self.records("businesses", {"business_id": b})]
            unreadable = [b for b in self._business_ids if b not in self._readable]
            advice = ("the token's system user must belong to each (Business Settings > "
                      "System users) and the token needs business_management")
            if not self._readable:
                raise ConfigError(f"business_ids: the token can read none of the configured "
                                  f"businesses ({', '.join(unreadable)}): {advice}.")
            if unreadable:
                self._log.warning("business_ids: the token cannot read %s; going on with "
                                     "%s (%s).", ", ".join(unreadable),
                                     ", ".join(self._readable), advice)
        return self._readable

    def partitions(self, kind: PartitionKind) -> list[Partition]:
        """The partitions of one kind, built once and shared by every stream of that kind;
        the directory's reads it rests on that were not complete are its `unread`."""
        if kind not in self._partitions:
            outer, self._touched = self._touched, {}
            try:
                self._partitions[kind] = self._build_partitions(kind)
                self._unread_of[kind] = self._touched
            finally:
                self._touched = outer
        if self._touched is not None:  # a kind built from this one lacks what it lacks
            self._touched.update(self._unread_of[kind])
        return self._partitions[kind]

    def _build_partitions(self, kind: PartitionKind) -> list[Partition]:
        builders: dict[PartitionKind, Callable[[], list[Partition]]] = {
            PartitionKind.BUSINESS: lambda: [{"business_id": b} for b in self.business_ids()],
            PartitionKind.AD_ACCOUNT: lambda: self._ad_accounts(unique=True),
            PartitionKind.BUSINESS_AD_ACCOUNT: lambda: self._ad_accounts(unique=False),
            PartitionKind.BUSINESS_PAGE: lambda: self._pages(unique=False),
            PartitionKind.PAGE: lambda: self._pages(unique=True),
            PartitionKind.ASSET_GROUP: lambda: self._business_assets("business_asset_groups",
                                                                     "group_id"),
            PartitionKind.BUSINESS_PIXEL: lambda: self._business_assets("pixels", "pixel_id"),
            PartitionKind.BUSINESS_CATALOG: lambda: self._business_assets("product_catalogs",
                                                                          "catalog_id"),
            PartitionKind.LEAD_FORM: self._lead_forms,
            PartitionKind.BUSINESS_PERSON: self._people,
            PartitionKind.PARTNER: self._partners,
            PartitionKind.PARTNER_ASSET: self._partner_assets,
        }
        return builders[kind]()

    # -- partners (streams/partners.py) ---------------------------------------------------
    def _partners(self) -> list[Partition]:
        """The business of each partner token (`/me/businesses`, read with the token): its
        name in the client from then on. A refused token: warned of by the client, and the
        partner streams are incomplete this run (nothing of any partner is deleted)."""
        policy = EdgePolicy.plain(PARTNER_STREAMS[0], ("id", "name"), paged=True,
                                  page_size=MAX_PAGE_SIZE)
        ours = set(self.business_ids())
        out: list[Partition] = []
        for label in self._partner_credentials:
            read = EdgeRead("/me/businesses", (), "me", policy, credential=label)
            try:
                businesses = [str(r["id"]) for r in self._client.records_or_skip(read)]
            except AssetSkipped as skipped:
                refused = self._client.refused_credential(label)
                why = (refused or skipped.error).message.rstrip(".")
                self.refused_partner_tokens[label] = why
                self._incomplete(f"{label} was refused: {why}")
                continue
            for business_id in businesses:
                if business_id in ours:
                    self._log.warning("partner_tokens: %s belongs to business %s, one of the "
                                      "businesses read with access_token; it is not a "
                                      "partner's token and is not used", label, business_id)
                elif business_id not in {p["business_id"] for p in out}:
                    self._client.name_credential(label, business_id)
                    out.append({"business_id": business_id})
        return out

    def _partner_assets(self) -> list[Partition]:
        """Our assets shared with each partner that gave a token, from the grant streams
        (read here once; their streams emit what was read)."""
        partners = {p["business_id"] for p in self.partitions(PartitionKind.PARTNER)}
        out: list[Partition] = []
        for source in self._grant_sources if partners else []:
            for partition in self._grant_partitions(source.kind):
                for record in self.records(source.stream, partition):
                    if str(record["id"]) in partners:
                        out.append({"business_id": str(record["id"]),
                                    "asset_type": source.asset_type,
                                    "asset_id": source.asset_id(partition)})
            skipped = self._summary.tally(source.stream).skipped if self._summary else []
            if skipped:
                self._incomplete(f"{len(skipped)} of the grants read for {source.stream} "
                                 "could not be read, so partners' people on those assets are "
                                 "not known this run")
        return out

    def _grant_partitions(self, kind: PartitionKind) -> list[Partition]:
        """Every asset's partitions, whatever the shard: partners' people are read by shard
        0 alone, on every ad account."""
        if kind is PartitionKind.AD_ACCOUNT:
            return self._ad_accounts(unique=True, every_shard=True)
        return self.partitions(kind)

    def _incomplete(self, why: str) -> None:
        if self._summary is not None:
            for stream in PARTNER_STREAMS:
                self._summary.skipped(stream, why)

    def _ad_accounts(self, *, unique: bool, every_shard: bool = False) -> list[Partition]:
        wanted = self._account_ids
        seen: set[str] = set()
        out: list[Partition] = []
        for business_id in self.business_ids():
            for record in self._of_business("ad_accounts", business_id):
                account_id = bare_account_id(str(record["id"]))
                if (wanted and account_id not in wanted) or (unique and account_id in seen):
                    continue
                seen.add(account_id)
                out.append({"business_id": business_id, "account_id": account_id})
        missing = sorted(wanted - seen)
        if missing and len(missing) == len(wanted):
            raise ConfigError(f"account_ids: none of {', '.join(missing)} is an ad account "
                              "of the businesses read (owned or shared with them).")
        if missing and not self._missing_said:
            self._missing_said = True
            self._log.warning("account_ids: %s are not ad accounts of the businesses read; "
                              "going on with the others.", ", ".join(missing))
        if every_shard:
            return out
        mine = [p for p in out if self.owns_account(p["account_id"])]
        if out and not mine:
            self._log.info("account_shard %s: none of the %d ad accounts hashes to this "
                           "shard; it has nothing of theirs to read.", self._shard, len(out))
        return mine

    def missing_account_ids(self) -> list[str]:
        """Configured account_ids that are no ad account of the businesses read (owned or
        shared with them), from every page of their lists."""
        listed = {bare_account_id(str(record["id"])) for business_id in self.business_ids()
                  for record in self._of_business("ad_accounts", business_id)}
        return sorted(self._account_ids - listed) if self._account_ids else []

    def check_account_ids(self) -> None:
        """Configured `account_ids` name ad accounts of the businesses read (ConfigError when
        none does; a warning for those that do not), from the lists partitions use anyway."""
        if self._account_ids:
            self.partitions(PartitionKind.AD_ACCOUNT)

    def owns_account(self, account_id: str) -> bool:
        """Whether this run reads the ad account's own streams (always, unless sharded)."""
        return self._shard is None or self._shard.owns(account_id)

    def account_timezone(self, account_id: str) -> str | None:
        """The ad account's `timezone_name` (its insights days are its own calendar days);
        None when the ad_accounts stream does not read it."""
        if self._timezones is None:
            self._timezones = {}
            for business_id in self.business_ids():
                for record in self._of_business("ad_accounts", business_id):
                    zone = record.get("timezone_name")
                    if zone:
                        self._timezones.setdefault(bare_account_id(str(record["id"])), zone)
        return self._timezones.get(account_id)

    def _pages(self, *, unique: bool) -> list[Partition]:
        # Per (business, page) for assignments: they are read with `business=`, which scopes
        # them to the people of that business, so a page shared by two configured businesses
        # is read twice. Once per page for what belongs to the page itself (lead forms).
        seen: set[str] = set()
        out: list[Partition] = []
        for business_id in self.business_ids():
            for record in self._of_business("pages", business_id):
                page_id = str(record["id"])
                if not (unique and page_id in seen):
                    seen.add(page_id)
                    out.append({"business_id": business_id, "page_id": page_id})
        return out

    def _business_assets(self, stream_name: str, key: str) -> list[Partition]:
        return [
            {"business_id": business_id, key: str(record["id"])}
            for business_id in self.business_ids()
            for record in self._of_business(stream_name, business_id)
        ]

    def _people(self) -> list[Partition]:
        return [
            {"business_id": business_id, "user_id": str(record["id"])}
            for business_id in self.business_ids()
            for stream_name in ("business_users", "system_users")
            for record in self._of_business(stream_name, business_id)
        ]

    def _lead_forms(self) -> list[Partition]:
        return [
            {**page, "form_id": str(record["id"])}
            for page in self.partitions(PartitionKind.PAGE)
            for record in self.records("lead_forms", page)
        ]
