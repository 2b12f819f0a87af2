"""Leads: a Page's lead forms and each form's leads, read with the Page's own token (Meta's
leadgen references), leads bounded by `filtering` on `time_created`."""

from __future__ import annotations

from tests.fakegraph.data import PAGE_BASE
from tests.fakegraph.routes import Add, Family, Route, TruthScope


class LeadsEdges(Family):
    def route(self, node: str, edge: str, params: dict[str, str]) -> Route | None:
        data = self.data
        if edge == "leadgen_forms" and (p := data.page_index(node)) is not None:
            forms = data.lead_forms(p)
            return Route("LeadgenForm", node, len(forms), forms.__getitem__, edge,
                         owner="Page", page=node)
        if edge == "leads" and (form := data.form_index(node)) is not None:
            leads = data.leads(*form)
            return Route("Lead", node, len(leads), leads.__getitem__, edge, owner="LeadgenForm",
                         page=str(PAGE_BASE + form[0]), time_filter=("created_time",
                                                                      "time_created"))
        return None

    def truth(self, add: Add, scope: TruthScope) -> None:
        for _, _, p, page_id in self.pages():
            if self.denied(page_id, "leadgen_forms"):
                continue
            for form in self.data.lead_forms(p):
                add("lead_forms", form["id"])
                if not self.denied(form["id"], "leads"):
                    for lead in self.data.leads(p, int(form["id"][-2:])):
                        add("leads", lead["id"])
