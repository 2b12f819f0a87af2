"""Property-based: no error body or usage header crashes the classifier or the governor, and
no log line or message ever shows the token."""

from __future__ import annotations

import io
import json
import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from tap_meta_bm.errors import Action, GraphFatalError, classify_graph_error
from tap_meta_bm.governor import Governor
from tap_meta_bm.redaction import protect

TOKEN = "EAAhypothesisSecretToken42"
protect([TOKEN])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children,
                                                                          max_size=4),
    max_leaves=12,
)
envelopes = st.fixed_dictionaries({}, optional={
    "message": st.text() | st.just(f"bad token {TOKEN}"),
    "code": st.integers(-5, 90000) | st.text() | st.none(),
    "error_subcode": st.integers(-5, 2_000_000) | st.text() | st.none(),
    "is_transient": st.booleans() | st.text(),
    "fbtrace_id": st.text() | st.none(),
    "error_user_msg": st.text(),
})


@given(status=st.integers(100, 599),
       body=json_values | st.builds(lambda e: {"error": e}, envelopes | json_values))
@settings(max_examples=400)
def test_classifier_never_crashes(status, body):
    error = classify_graph_error(status, body)
    if error is not None:
        assert isinstance(error.action, Action)
        assert isinstance(error.describe("somewhere"), str)


@given(envelope=envelopes)
@settings(max_examples=200)
def test_messages_never_show_the_token_in_logs(envelope):
    error = classify_graph_error(400, {"error": envelope})
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    logger = logging.getLogger("tap-meta-bm.hypothesis")
    logger.addHandler(handler)
    try:
        logger.warning("classified: %s", error.describe("edge"))
        try:
            raise GraphFatalError(error, "edge")
        except GraphFatalError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert "Traceback" in written.getvalue()
    assert TOKEN not in written.getvalue()


headers = st.dictionaries(
    st.sampled_from(["X-App-Usage", "x-ad-account-usage", "X-Business-Use-Case-Usage",
                     "Other"]),
    st.text() | json_values.map(json.dumps),
    max_size=3,
)


@given(headers=headers, key=st.text(max_size=5))
@settings(max_examples=400)
def test_governor_never_crashes_on_headers(headers, key):
    slept: list[float] = []
    governor = Governor(75, logging.getLogger("test"), clock=lambda: 0.0,
                        sleep=slept.append)
    governor.observe(headers, key)
    governor.throttled(classify_graph_error(400, {"error": {"code": 80004}}), key)
    assert all(s >= 0 for s in slept)
