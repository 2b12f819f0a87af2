"""What one read of a route answers, as Graph answers it: only fields Graph reads on that node
and edge (`tests/graph_sdk.py`; anything else is error 100, a field needing a permission the
app lacks is error 10), opaque cursors and absolute `paging.next` URLs that echo the access
token, and the filters Graph applies (effective status, update and creation times)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from tests.fakegraph.faults import Faults
from tests.fakegraph.routes import GraphErrorResponse, Route
from tests.graph_sdk import readable_fields

#: The edges Graph filters by effective status (archived and deleted hidden by default).
STATUS_FILTERED = {"campaigns", "adsets", "ads"}


class Reader:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._lock = threading.Lock()
        self._node_calls: dict[str, int] = {}  # calls per node type (Faults.drop_field)

    def fields(self, route: Route, params: dict[str, str]) -> list[str]:
        # Graph tolerates a Python list's repr (`['id', 'name']`), which some taps send.
        # Without `fields`, a node answers its default fields (a report run: all of them).
        defaults = {"AdReportRun": ",".join(sorted(readable_fields("AdReportRun"))),
                    "AdAccount": "id,account_id"}.get(route.node, "id")
        requested = [f.strip(" []'\"") for f in params.get("fields", defaults).split(",")]
        requested = [f for f in requested if f]
        if route.node == "DebugToken":  # not a node of the SDK: it answers what it has
            return requested
        readable = readable_fields(route.node, route.owner, route.edge or None)
        dropped = self.faults.drop_field
        if dropped and dropped[0] == route.node:
            with self._lock:
                self._node_calls[route.node] = answered = self._node_calls.get(route.node, 0) + 1
            if answered > self.faults.drop_field_after:
                readable = readable - {dropped[1]}
        unknown = [f for f in requested if f not in readable]
        if any((route.node, f) in self.faults.field_needs_permission for f in requested):
            raise GraphErrorResponse(403, 10, "(#10) Application does not have permission "
                                              "for this action")
        if unknown:
            raise GraphErrorResponse(400, 100, f"(#100) Tried accessing nonexisting field "
                                               f"({unknown[0]}) on node type ({route.node})")
        return requested

    def page(self, route: Route, params: dict[str, str], fields: list[str], limit: int,
             next_url: str, token: str) -> dict[str, Any]:
        """One page from `after`; `paging.next` is `next_url` with the query, the token in it."""
        offset = 0
        if params.get("after"):
            try:
                offset = json.loads(base64.urlsafe_b64decode(params["after"]))["o"]
            except (ValueError, KeyError):
                raise GraphErrorResponse(400, 100, "(#100) Invalid cursor") from None
        keep = self._filter(route, params) if not route.raw else (lambda _: True)
        window = range(offset, min(offset + limit, route.count))
        data = [project(r, fields) for r in map(route.get, window) if keep(r)]
        body: dict[str, Any] = {"data": data}
        end = window.stop
        if end < route.count:
            cursor = base64.urlsafe_b64encode(json.dumps({"o": end}).encode()).decode()
            before = base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()
            query = {k: v for k, v in params.items() if k != "after"}
            query.update({"access_token": token, "after": cursor})
            body["paging"] = {"cursors": {"before": before, "after": cursor},
                              "next": f"{next_url}?{urlencode(query)}"}
        return body

    def _filter(self, route: Route, params: dict[str, str]) -> Callable[[dict], bool]:
        statuses = {"ACTIVE", "PAUSED", "IN_PROCESS", "WITH_ISSUES"}
        if "effective_status" in params:
            statuses = set(json.loads(params["effective_status"])) - {"DELETED"}
        since: int | None = None
        time_field = "updated_time"
        if route.time_filter and route.time_filter[1] == "since" and "since" in params:
            time_field, since = route.time_filter[0], int(params["since"]) - 1  # inclusive
        for rule in json.loads(params.get("filtering", "[]")):
            name = rule.get("field", "")
            if route.time_filter and name == route.time_filter[1] and \
                    rule.get("operator") == "GREATER_THAN":
                since, time_field = int(rule["value"]), route.time_filter[0]
            elif route.filter_prefix and name == f"{route.filter_prefix}.updated_time" and \
                    rule.get("operator") == "GREATER_THAN":
                since = int(rule["value"])
            elif (route.node in ("CustomAudience", "SavedAudience") and name == "time_updated"
                  and rule.get("operator") == "GREATER_THAN"
                  and not self.faults.reject_audience_filter):
                since, time_field = int(rule["value"]), "time_updated"
            elif isinstance(self.faults.reject_audience_filter, str):
                raise GraphErrorResponse(400, 100, self.faults.reject_audience_filter)
            else:
                raise GraphErrorResponse(400, 100, f"(#100) Filtering field {name} with "
                                                   "operation is not supported")
        check_status = route.edge in STATUS_FILTERED

        def keep(record: dict[str, Any]) -> bool:
            if check_status and record["effective_status"] not in statuses:
                return False
            if since is not None:
                value = record[time_field]
                return (value if isinstance(value, int) else _unix(value)) > since
            return True

        return keep


def project(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:  # report results: the fields were chosen with the report
        return record
    return {f: record[f] for f in fields if f in record}


def _unix(graph_time: str) -> int:
    return int(datetime.strptime(graph_time, "%Y-%m-%dT%H:%M:%S%z").timestamp())
