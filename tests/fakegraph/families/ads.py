"""Ads: an ad account's campaigns, ad sets and ads (filtered by effective status and update
time, as Graph filters them), and its activity log."""

from __future__ import annotations

from tests.fakegraph.data import status_of
from tests.fakegraph.routes import Add, Family, Route, TruthScope, account_of

#: Graph edge -> (Dataset kind, node type, the prefix of its `filtering` field).
ADS_EDGES = {"campaigns": ("campaigns", "Campaign", "campaign"),
             "adsets": ("adsets", "AdSet", "adset"), "ads": ("ads", "Ad", "ad")}
#: What tells one activity-log entry from another (AdActivity has no id), after the account
#: and the time.
ACTIVITY_FIELDS = ("event_type", "object_id", "actor_id", "extra_data")


class AdsEdges(Family):
    def route(self, node: str, edge: str, params: dict[str, str]) -> Route | None:
        account = account_of(node, self.data)
        if account is None:
            return None
        a, key = account
        data = self.data
        if edge in ADS_EDGES:
            kind, node_type, prefix = ADS_EDGES[edge]
            return Route(node_type, key, data.child_count(kind),
                         lambda i: data.child(kind, a, i), edge, filter_prefix=prefix,
                         owner="AdAccount")
        if edge == "activities":
            return Route("AdActivity", key, data.activity_count(),
                         lambda i: data.activity(a, i), edge, owner="AdAccount",
                         time_filter=("event_time", "since"))
        return None

    def truth(self, add: Add, scope: TruthScope) -> None:
        data = self.data
        visible = {"ACTIVE", "PAUSED"} | ({"ARCHIVED"} if scope.include_archived else set())
        for _, _, a, account in self.accounts():
            for edge, (kind, _, _) in ADS_EDGES.items():
                if not self.denied(account, edge):
                    for i in range(data.child_count(kind)):
                        if status_of(i) in visible:
                            add(kind, data.child_id(kind, a, i))
            if not self.denied(account, "activities"):  # no id: the entries themselves
                for i in range(data.activity_count()):
                    entry = data.activity(a, i)
                    add("ad_activities", account,
                        entry["event_time"].replace("+0000", "+00:00"),
                        *(entry[k] for k in ACTIVITY_FIELDS))
