"""The Singer SDK's standard tap tests, against the fake Graph API: every stream the tap
declares, on the edges and data the fake serves from the facts (no list of edges to keep here:
a new stream is tested here as soon as it is declared and the fake serves its edge)."""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_meta_bm.tap import TapMetaBM
from tests.fakegraph import DEFAULT_TOKEN, FakeGraph
from tests.helpers import catalog

#: The suite's classes are made when this module is read (collecting it starts nothing): the
#: fake's data is there, its server starts with the module's first test (`graph`).
GRAPH = FakeGraph("small")
#: With a partner's token: the partner streams have something to read. `api_url` is the
#: server's once it runs: the suite's runner reads this very dict when it syncs.
CONFIG = {"access_token": DEFAULT_TOKEN, "api_url": "http://127.0.0.1:9/not-started",
          "max_workers": 1,
          "partner_tokens": [GRAPH.partner_token(GRAPH.data.partners(0, "AGENCY")[0]["id"])]}


@pytest.fixture(autouse=True, scope="module")
def graph():
    GRAPH.start()
    CONFIG["api_url"] = GRAPH.url
    yield GRAPH
    GRAPH.stop()


#: Every stream selected, those off by default (personal data) too.
EVERYTHING = catalog(list(TapMetaBM(config=CONFIG).streams))
#: The standard tests sync as a dry run (a sample of each stream), and a dry run reads nothing
#: completely: `complete_reads` and `partial_reads` rightly stay empty (tests/test_reads.py
#: covers them).
TestTapMetaBM = get_tap_test_class(
    tap_class=TapMetaBM, config=CONFIG, catalog=EVERYTHING,
    suite_config=SuiteConfig(ignore_no_records_for_streams=["complete_reads",
                                                            "partial_reads"]))
