"""`tap-meta-bm --config c.json --doctor`: what the token can and cannot reach, before a sync.

Every guide to connecting a system user ends with "paste the token"; a step missed (an asset
not assigned, a permission not granted) shows up later, far from its cause. The doctor reads
what the token is (`debug_token`), who it is (`/me`), which businesses it reaches against
those configured, which of their ad accounts and pages its system user holds a task on, and
reads one row of each selected stream. Each gap comes with the fix. It costs a few calls per
business and one per stream, never a sync, and never prints the token.

Exit status: 0 when every selected stream can be served, 1 otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.edges import MAX_PAGE_SIZE, EdgePolicy, EdgeRead, records_of
from tap_meta_bm.errors import (
    AssetSkipped,
    GraphRetriableError,
    GraphUnreachableError,
    TapMetaBMError,
)
from tap_meta_bm.graph import GraphClient
from tap_meta_bm.graph_stream import GraphStream
from tap_meta_bm.ids import id_list

if TYPE_CHECKING:
    from tap_meta_bm.tap import TapMetaBM

ASSIGN = "Business Settings > System users > {user} > Assign assets"
#: What a partner's token is examined with: the partner's own scopes are not ours to read.
PARTNER_PERMISSION = "(the partner's token)"
#: What each kind of stream needs: the permission the token must carry, the task its system
#: user must hold, and where to give it.
NEEDS: dict[str, tuple[str, str, str]] = {
    "business": ("business_management", "a role in the business",
                 "Business Settings > System users: add the system user to the business, and "
                 "generate the token with business_management"),
    "ad_account": ("ads_read", "a task on each ad account (View performance at least)",
                   ASSIGN + " > Ad accounts > Full control (or View performance) on {asset}"),
    "page": ("pages_manage_metadata", "MANAGE on each Page",
             ASSIGN + " > Pages > Full control on {asset}"),
    "pixel": ("ads_read", "a task on each pixel", ASSIGN + " > Datasets (pixels) > {asset}"),
    "catalog": ("catalog_management", "a task on each catalog",
                ASSIGN + " > Catalogs > Full control on {asset}"),
    "leads": ("leads_retrieval", "a task on the Page that can advertise, and access in the "
                                 "Leads Access Manager where it is customised",
              ASSIGN + " > Pages > Full control on {asset}; Leads Access Manager > the "
                       "system user"),
    # Read with a partner's token (partner_tokens): its permissions are the partner's.
    "partner": (PARTNER_PERMISSION, "Full control, in the partner's business, on the assets "
                                    "shared with it",
                "ask the partner: its Business Settings > System users > (the system user "
                "whose token it shared) > Assign assets > Full control on {asset}"),
}
#: What debug_token answers a token that may not examine tokens (Meta's reference).
APP_TOKEN_WANTED = "You must provide an app access token"
KIND_OF_PARTITION = {
    None: "business", PartitionKind.BUSINESS: "business", PartitionKind.ASSET_GROUP: "business",
    PartitionKind.AD_ACCOUNT: "ad_account", PartitionKind.BUSINESS_AD_ACCOUNT: "ad_account",
    PartitionKind.BUSINESS_PAGE: "page", PartitionKind.PAGE: "page",
    PartitionKind.BUSINESS_PIXEL: "pixel", PartitionKind.BUSINESS_CATALOG: "catalog",
    PartitionKind.LEAD_FORM: "leads", PartitionKind.BUSINESS_PERSON: "business",
    PartitionKind.PARTNER: "partner", PartitionKind.PARTNER_ASSET: "partner",
}


def needs_of(stream: GraphStream) -> str:
    """What reading `stream` needs, as a key of NEEDS (README, "The system user and its
    token", lists the streams of each)."""
    return "leads" if not stream.selected_by_default else KIND_OF_PARTITION[
        stream.partitions_from]


@dataclass
class Gap:
    """Something the token cannot do, and how to fix it."""

    what: str
    fix: str


@dataclass
class Report:
    token: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)
    businesses: dict[str, Any] = field(default_factory=dict)
    assets: list[dict[str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    partners: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def serves_every_stream(self) -> bool:
        """No gap: a configured business, an ad account or a page the token cannot read
        means a sync that is not whole."""
        return bool(self.token.get("valid")) and not self.gaps


def _policy(*fields: str, paged: bool = True, size: int = MAX_PAGE_SIZE) -> EdgePolicy:
    return EdgePolicy.plain("doctor", fields, paged=paged, page_size=size)


class Doctor:
    def __init__(self, tap: TapMetaBM, now: Callable[[], float] = time.time) -> None:
        self.tap = tap
        self.client: GraphClient = tap.run.client
        self.report = Report()
        self._now = now
        self._user = "the system user"

    def examine(self) -> Report:
        self._token()
        if self.report.token.get("valid"):
            if not self.report.identity:
                self._identity()
            self._businesses()
            self._assets()
            self._configured_accounts()
            self._partners()
            self._probe_streams()
        return self.report

    def _first_page(self, read: EdgeRead) -> dict[str, Any]:
        return next(self.client.pages(read))

    def _token(self) -> None:
        """`debug_token` wants the token as a parameter: it travels in the body of a one-call
        Batch API request, never in a URL."""
        token = str(self.tap.config["access_token"]).strip()
        read = EdgeRead("/debug_token", (("input_token", token),), "app",
                        _policy(paged=False))
        try:
            data = self.client.read_in_body(read).get("data")
            reason = "no token data in the answer"
        except GraphUnreachableError as error:  # not the token's fault: say what is
            self.report.token = {"valid": False, "problem": str(error)}
            self.report.gaps.append(Gap(f"Graph could not be reached: {error}",
                                        "Check api_url and the network, then run the doctor "
                                        "again"))
            return
        except (TapMetaBMError, GraphRetriableError) as error:
            if APP_TOKEN_WANTED in str(error):
                self._token_without_debug_token(str(error))
                return
            data, reason = None, str(error)
        if not isinstance(data, dict):
            self.report.token = {"valid": False, "problem": reason}
            self.report.gaps.append(Gap(f"the token could not be examined: {reason}",
                                        "Generate a new system-user token"))
            return
        expires = int(data.get("expires_at") or 0)
        expired = bool(expires) and expires < self._now()
        self.report.token = {
            "valid": bool(data.get("is_valid")) and not expired, "type": data.get("type"),
            "app": f"{data.get('application')} ({data.get('app_id')})",
            "expires": _when(expires), "data_access_expires":
                _when(int(data.get("data_access_expires_at") or 0)),
            "permissions": sorted(data.get("scopes") or [])}
        fix = ("Business Settings > System users > Generate new token (token expiration: "
               "Never), with the permissions below")
        if not data.get("is_valid") or expired:
            self.report.gaps.append(Gap("the token is not valid or has expired", fix))
        elif data.get("type") != "SYSTEM_USER":
            self.report.gaps.append(Gap(
                f"the token is a {data.get('type')} token, not a system user's: it stops "
                "working with that person's session or password", fix))

    def _token_without_debug_token(self, refused: str) -> None:
        """debug_token wants an app token or an app developer's (Meta's reference); nothing
        documents a system user's own token as accepted. What can be examined otherwise is:
        the token works if /me answers, and /me/permissions lists what it was granted. Its
        type and expiry stay unknown, said so."""
        unknown = "unknown (debug_token wants an app token)"
        try:
            self._identity()
            granted = [str(r.get("permission")) for page in self.client.pages(EdgeRead(
                "/me/permissions", (), "me", _policy("permission", "status")))
                for r in records_of(page) if r.get("status") == "granted"]
        except (TapMetaBMError, GraphRetriableError, AssetSkipped) as error:
            self.report.token = {"valid": False, "problem": str(error)}
            self.report.gaps.append(Gap(f"the token could not be examined: {error}",
                                        "Generate a new system-user token"))
            return
        self.report.token = {"valid": True, "type": unknown, "expires": unknown,
                             "permissions": sorted(granted), "debug_token": refused}

    def _identity(self) -> None:
        me = self._first_page(EdgeRead("/me", (), "me", _policy("id", "name", paged=False)))
        self.report.identity = {"id": me.get("id"), "name": me.get("name")}
        self._user = str(me.get("name") or me.get("id"))

    def _businesses(self) -> None:
        page = self._first_page(EdgeRead("/me/businesses", (), "me", _policy("id", "name")))
        reachable = {str(r.get("id")): r.get("name") for r in records_of(page)}
        configured = id_list(self.tap.config.get("business_ids")) or sorted(reachable)
        missing = [b for b in configured if b not in reachable]
        self.report.businesses = {"configured": configured, "reachable": sorted(reachable),
                                  "unreachable": missing,
                                  "explicit": bool(self.tap.config.get("business_ids"))}
        for business in missing:
            self.report.gaps.append(Gap(
                f"business {business} is configured but the token does not reach it",
                NEEDS["business"][2]))

    def _assets(self) -> None:
        assigned = self._every(EdgeRead(f"/{self.report.identity.get('id')}/assigned_pages",
                                        (), "me", _policy("id", "name")),
                               f"the Pages assigned to {self._user}", "business")
        assigned_pages = None if assigned is None else {str(r.get("id")) for r in assigned}
        for business in self.report.businesses["configured"]:
            if business in self.report.businesses["unreachable"]:
                continue
            accounts = self._list(business, "ad_accounts", ("id", "name", "user_tasks"))
            pages = self._list(business, "pages", ("id", "name"))
            no_task = [a["id"] for a in accounts if not a.get("user_tasks")]
            # Unknown when the assigned Pages could not be read: no gap is claimed then.
            unassigned = [] if assigned_pages is None else \
                [p["id"] for p in pages if p["id"] not in assigned_pages]
            self.report.assets.append({
                "business": business, "ad_accounts": len(accounts),
                "unreadable_ad_accounts": no_task, "pages": len(pages),
                "unreadable_pages": unassigned})
            for account in no_task:
                self.report.gaps.append(Gap(
                    f"ad account {account} of business {business}: the system user holds no "
                    "task on it", self._fix("ad_account", account)))
            for page_id in unassigned:
                self.report.gaps.append(Gap(
                    f"page {page_id} of business {business}: not assigned to the system user",
                    self._fix("page", page_id)))

    def _configured_accounts(self) -> None:
        """Each configured account_ids entry the businesses do not have: one gap each (a
        run goes on without it, with a warning, or stops when it is the only one)."""
        if self.report.businesses["unreachable"]:
            return  # its accounts cannot be listed: that gap says it already
        for account in self.tap.run.directory.missing_account_ids():
            self.report.gaps.append(Gap(
                f"account_ids: {account} is not an ad account of the businesses read (owned "
                "or shared with them)", "remove it from account_ids, or add the business it "
                "belongs to to business_ids (and give the system user a task on it)"))

    def _list(self, business: str, kind: str, fields: tuple[str, ...]) -> list[dict]:
        """Every page of the business's owned and client `kind` (a business with more than a
        page of them would get false gaps from the first page alone)."""
        out: list[dict] = []
        for relationship in ("owned", "client"):
            edge = f"{relationship}_{kind}"
            read = EdgeRead(f"/{business}/{edge}", (), business, _policy(*fields))
            listed = self._every(read, f"{edge} of business {business}", "business")
            out.extend({**r, "id": str(r.get("id"))} for r in listed or [])
        return out

    def _every(self, read: EdgeRead, what: str, kind: str) -> list[dict] | None:
        """Every record of `read`; None, and a gap saying what Graph answered, when it
        refuses (each check reports its own failure, and the others go on)."""
        try:
            return [record for page in self.client.pages(read) for record in records_of(page)]
        except (AssetSkipped, TapMetaBMError) as refused:
            said = f"{refused.error.message} [{refused.error.reference}]" \
                if isinstance(refused, AssetSkipped) else str(refused)
            self.report.gaps.append(Gap(f"{what} could not be read: {said}",
                                        NEEDS[kind][2].format(user=self._user, asset=what)))
            return None

    def _partners(self) -> None:
        """Each partner token: whose it is, and which of our assets shared with that partner
        it reads the people of (one row each); a refused token is named, by position."""
        directory = self.tap.run.directory
        if not directory.reads_grants:
            return
        assets = directory.partitions(PartitionKind.PARTNER_ASSET)
        for partner in directory.partitions(PartitionKind.PARTNER):
            business = partner["business_id"]
            seen, refused = [], []
            for asset in (a for a in assets if a["business_id"] == business):
                read = EdgeRead(f"/{asset['asset_id']}/assigned_users",
                                (("business", business),), business, _policy("id", size=1),
                                credential=business)
                try:
                    self._first_page(read)
                    seen.append(asset["asset_id"])
                except (AssetSkipped, TapMetaBMError) as error:
                    refused.append(asset["asset_id"])
                    self.report.gaps.append(Gap(
                        f"partner {business} cannot read its people on {asset['asset_id']}: "
                        f"{getattr(error, 'error', error)}", self._fix("partner",
                                                                        asset["asset_id"])))
            self.report.partners.append({"business": business, "shared_assets_read": seen,
                                         "shared_assets_refused": refused})
        for label, why in directory.refused_partner_tokens.items():
            self.report.partners.append({"token": label, "refused": why})
            self.report.gaps.append(Gap(f"{label} was refused: {why}",
                                        "ask the partner for a new token (README, Partners' "
                                        "people) and replace it in partner_tokens"))

    def _fix(self, kind: str, asset: str) -> str:
        return NEEDS[kind][2].format(user=self._user, asset=asset)

    def _probe_streams(self) -> None:
        scopes = set(self.report.token.get("permissions") or [])
        selected = [s for s in self.tap.streams.values()
                    if isinstance(s, GraphStream) and s.selected]
        for stream in selected:
            kind = needs_of(stream)
            permission, task, _ = NEEDS[kind]
            probe = self._probe(stream)
            self.report.streams.append({"stream": stream.name, "permission": permission,
                                        "task": task, "probe": probe})
            if permission not in scopes and permission != PARTNER_PERMISSION:
                self.report.gaps.append(Gap(
                    f"{stream.name}: the token lacks the {permission} permission",
                    f"generate the token with {permission}"))
            elif probe not in ("ok",) and not probe.startswith("nothing to read"):
                self.report.gaps.append(Gap(f"{stream.name}: {probe}", NEEDS[kind][2].format(
                    user=self._user, asset="the asset named")))

    def _probe(self, stream: GraphStream) -> str:
        """One row of the stream's first partition."""
        try:
            partitions = stream.partitions
            if partitions is not None and not partitions:
                return "nothing to read (no partitions: no such assets)"
            reads = stream.edge_reads(partitions[0] if partitions else None)
            read = reads[0]
            probe = EdgeRead(read.path, read.params, read.meter_key, read.policy.probe(),
                             read.column_values, read.page_id, credential=read.credential,
                             edge_fields=read.edge_fields)
            next(self.client.pages(probe))
        except AssetSkipped as skipped:
            return f"refused: {skipped.error.message} [{skipped.error.reference}]"
        except TapMetaBMError as error:
            return f"failed: {error}"
        return "ok"


def _when(unix: int) -> str:
    return "never" if not unix else datetime.fromtimestamp(unix, UTC).isoformat()


def render_text(report: Report) -> str:
    token, lines = report.token, ["tap-meta-bm doctor", "", "Token"]
    for label, key in (("type", "type"), ("app", "app"), ("expires", "expires"),
                       ("data access expires", "data_access_expires")):
        if key in token:
            lines.append(f"  {label:<22}{token[key]}")
    if "permissions" in token:
        lines.append(f"  {'permissions':<22}{', '.join(token['permissions']) or '(none)'}")
    if report.identity:
        lines.append(f"Identity                {report.identity['name']} "
                     f"({report.identity['id']})")
    if report.businesses:
        b = report.businesses
        reaches = ", ".join(b["reachable"]) or "none"
        lines.append(f"Businesses              configured {', '.join(b['configured'])}; the "
                     f"token reaches {reaches}" if b.get("explicit") else
                     f"Businesses              none configured: every one the token reaches "
                     f"({reaches})")
    for partner in report.partners:
        if "refused" in partner:
            lines.append(f"Partner token           {partner['token']}: refused "
                         f"({partner['refused']})")
            continue
        refused = partner["shared_assets_refused"]
        lines.append(f"Partner {partner['business']:<16}people read on "
                     f"{len(partner['shared_assets_read'])} of our shared assets"
                     + (f"; refused on {', '.join(refused)}" if refused else ""))
    for asset in report.assets:
        lines.append(f"Business {asset['business']}")
        for kind in ("ad_accounts", "pages"):
            unreadable = asset[f"unreadable_{kind}"]
            lines.append(f"  {kind.replace('_', ' '):<22}{asset[kind]} listed, "
                         f"{asset[kind] - len(unreadable)} readable"
                         + (f"; unreadable: {', '.join(unreadable)}" if unreadable else ""))
    if report.streams:
        lines += ["", "Streams", f"  {'stream':<28}{'permission':<24}probe"]
        lines += [f"  {s['stream']:<28}{s['permission']:<24}{s['probe']}"
                  for s in report.streams]
    if report.gaps:
        lines += ["", f"Gaps ({len(report.gaps)})"]
        # What Graph said may end in a period already: one period, not two.
        lines += [f"  - {gap.what.rstrip('.')}. Fix: {gap.fix.rstrip('.')}."
                  for gap in report.gaps]
    lines += ["", "Every selected stream can be served." if report.serves_every_stream
              else "Some selected streams cannot be served (see the gaps above)."]
    return "\n".join(lines)


def render_json(report: Report) -> str:
    return json.dumps({**asdict(report), "serves_every_stream": report.serves_every_stream},
                      indent=2, sort_keys=True)

