"""Insights edges: `GET /act_{id}/insights` answered at once, report jobs started by `POST
/act_{id}/insights`, and `GET /{report_run_id}` and its `/insights` rows. The jobs, rows and
refusals themselves are tests/fakegraph/insights.py's (`Insights`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.fakegraph.data import Dataset
from tests.fakegraph.faults import Faults
from tests.fakegraph.insights import REPORT_BASE, Insights, InsightsRefusal, account_today
from tests.fakegraph.routes import (
    Add,
    Family,
    GraphErrorResponse,
    Route,
    TruthScope,
    account_of,
    unknown_path,
)
from tests.graph_sdk import readable_fields


class InsightsEdges(Family):
    def __init__(self, data: Dataset, faults: Faults, insights: Insights) -> None:
        super().__init__(data, faults)
        self.insights = insights

    def route(self, node: str, edge: str, params: dict[str, str]) -> Route | None:
        account = account_of(node, self.data)
        if account is not None and edge == "insights":
            return self._answered_at_once(*account, params)
        if node.isdigit() and int(node) >= REPORT_BASE and node in self.insights.jobs:
            return self._report(node, edge)
        return None

    def readable(self) -> frozenset[str]:
        """What insights read now: a metric Meta retired (Faults.drop_field on AdsInsights)
        is refused as Meta refuses one, "(#100) cpp is not valid for fields param"."""
        readable = readable_fields("AdsInsights", "AdAccount", "insights")
        dropped = self.faults.drop_field
        return readable - {dropped[1]} if dropped and dropped[0] == "AdsInsights" else readable

    def account_of_post(self, path: str) -> tuple[int, str]:
        """The account a POST starts a report for; the tap may POST nothing else."""
        segments = path.strip("/").split("/")
        if len(segments) != 3 or segments[2] != "insights" or \
                not segments[1].startswith("act_"):
            raise GraphErrorResponse(400, 100, f"(#100) Unsupported post request to {path}")
        account = account_of(segments[1], self.data)
        if account is None:
            raise GraphErrorResponse(400, 100, f"(#100) Unsupported post request. Object with "
                                               f"ID '{segments[1]}' does not exist", subcode=33)
        return account

    def start(self, a: int, account_id: str, params: dict[str, str], headers: dict[str, str]
              ) -> tuple[dict[str, Any], dict[str, str]]:
        """A report job started: its id, with the account's insights headers as the start
        left them (the reach budget it used)."""
        try:
            job = self.insights.start(a, account_id, self.insights.parse(
                a, params, self.readable()))
        except InsightsRefusal as refusal:
            raise refused(refusal, self._headers(account_id, headers)) from None
        return {"report_run_id": job.run_id}, self._headers(account_id, headers)

    def _headers(self, account_id: str, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, **self.insights.throttle_header(account_id),
                **self.insights.reach_header(account_id)}

    def _answered_at_once(self, a: int, key: str, params: dict[str, str]) -> Route:
        try:
            request = self.insights.parse(a, params, self.readable())
        except InsightsRefusal as refusal:
            raise refused(refusal) from None
        rows = self.insights.rows(a, request)
        return Route("AdsInsights", key, len(rows), rows.__getitem__, "insights",
                     owner="AdAccount", raw=True)

    def _report(self, run_id: str, edge: str) -> Route:
        """`GET /{report_run_id}` (the job) and `GET /{report_run_id}/insights` (its rows)."""
        job = self.insights.jobs[run_id]
        headers = self.insights.throttle_header(job.account_id)
        try:
            if edge == "":
                node = self.insights.report_run(job)
                return Route("AdReportRun", job.account_id, 1, lambda _: node, edge,
                             single=True, headers=headers)
            if edge == "insights":
                rows = self.insights.results(job)
                return Route("AdsInsights", job.account_id, len(rows), rows.__getitem__,
                             edge, owner="AdReportRun", raw=True, headers=headers,
                             cache_key=self.insights.request_key(job))
        except InsightsRefusal as refusal:
            raise refused(refusal, headers) from None
        raise unknown_path(edge)

    def truth(self, add: Add, scope: TruthScope) -> None:
        """ads_insights: from `insights_since`, else the 28 days before the account's today,
        through its today."""
        data = self.data
        for _, _, a, account in self.accounts():
            if self.denied(account, "insights") or account in self.faults.unassigned_accounts:
                continue
            today = account_today(data.ad_account(a)["timezone_name"])
            since = scope.insights_since
            day = date.fromisoformat(since) if since else today - timedelta(days=28)
            while day <= today:
                for i in range(data.scale.ads):
                    if self.insights.ad_day(a, i, day.isoformat()) is not None:
                        add("ads_insights", data.child_id("ads", a, i), day.isoformat())
                day += timedelta(days=1)


def refused(refusal: InsightsRefusal, headers: dict[str, str] | None = None
            ) -> GraphErrorResponse:
    """An insights refusal as Graph answers it ("Loading Async Ads Report Failed" is
    `is_transient`)."""
    return GraphErrorResponse(refusal.status, refusal.code, str(refusal), refusal.subcode,
                              headers=headers, transient=refusal.subcode == 1815107)
