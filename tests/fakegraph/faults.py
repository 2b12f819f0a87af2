"""What goes wrong in the fake, and when: the faults a test or benchmark injects, each as Meta
documents it (the error, its code and words, where it happens)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakegraph.insights import InsightsFaults


@dataclass
class Faults:
    """What goes wrong, and when. Times are seconds (the real API speaks in minutes)."""

    transient_rate: float = 0.0
    throttle_object: str | None = None  # an object key: account id without act_, page id ...
    throttle_at_call: int = 3  # the n-th request to that object starts the block
    throttle_seconds: float = 3.0
    reduce_data_edge: str | None = None  # e.g. "campaigns": limits above the cap fail
    reduce_data_max_limit: int = 100
    denied: set[tuple[str, str]] = field(default_factory=set)  # (node id, edge)
    malformed_at_request: int | None = None
    #: Answer 100 to `filtering` on audience time_updated (undocumented): True with Graph's
    #: "not supported" words; a string, with those words (e.g. "nonexisting field (x)").
    reject_audience_filter: bool | str = False
    expire_token_after: int | None = None
    #: (node type, field): Graph stops reading it, as a new API version does, once this many
    #: calls for that node type were answered (0: from the start), whatever else was asked.
    drop_field: tuple[str, str] | None = None
    drop_field_after: int = 0
    #: `/{page_id}/assigned_users` refuses the system-user token and wants the Page's token.
    page_token_required: bool = False
    #: `/{page_id}/assigned_users` refuses the system-user token with this error (code,
    #: subcode, message), as Graph may where it wants the Page's token; the Page's works.
    page_refusal: tuple[int, int | None, str] | None = None
    #: (node type, field): asking for it fails the whole request with a permission error, as
    #: Meta's Page reference says fields needing a permission the app lacks do (since v12).
    field_needs_permission: set[tuple[str, str]] = field(default_factory=set)
    #: Pages on which the system user holds no task: they do not hand out their Page token.
    pages_without_task: set[str] = field(default_factory=set)
    #: Ad accounts the system user holds no task on: listed by the business, unreadable.
    unassigned_accounts: set[str] = field(default_factory=set)
    #: What `debug_token` says of the token (graph-api-facts-2.md §2g).
    token_type: str = "SYSTEM_USER"
    token_expires_at: int = 0  # unix seconds; 0 = never
    #: debug_token refuses a token that is neither an app token nor an app developer's, as
    #: Meta documents it may (nothing documents a system user's own token as accepted).
    debug_token_wants_app_token: bool = False
    #: Report jobs (tests/fakegraph/insights.py).
    insights: InsightsFaults = field(default_factory=InsightsFaults)
    #: Meta's ad-account score (graph-api-facts-3.md, section 3): (points, window seconds).
    #: A read costs 1 point and a write 3 over a sliding window; a call past the points is
    #: refused with 17/2446079 and blocks the account for `account_score_block` seconds (the
    #: Limited tier: 60 points per 300 s, blocked 300 s; Full: 9,000, blocked 60 s). None:
    #: no score (the account's usage is a share of `object_budget`).
    account_score: tuple[int, float] | None = None
    account_score_block: float = 300.0
    #: Partner business id -> calls its token is answered before Graph refuses it (190/460,
    #: as when the partner revokes the token or its system user loses the assets); 0: at once.
    partner_token_refused_after: dict[str, int] = field(default_factory=dict)
    scopes: tuple[str, ...] = ("business_management", "ads_read", "ads_management",
                               "pages_show_list", "pages_read_engagement",
                               "pages_manage_metadata", "pages_manage_ads", "leads_retrieval",
                               "catalog_management")
