"""Each mistake a new user makes, through the installed command: one line, the right exit
code, and no request at all where the input is at fault."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import Faults, run_tap, tap_config
from tests.fakegraph import DEFAULT_TOKEN
from tests.helpers import TAP_COMMAND

BUSINESS = "100000000000"


def tap(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TAP_COMMAND, *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=tmp_path, env={**os.environ, **(env or {})})


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("tap-meta-bm: error")]


@pytest.mark.parametrize(("option", "content", "message"), [
    ("--config", "{\"access_token\": ", "not valid JSON at line 1, column 18 (Expecting value)."),
    ("--config", "", "the config file is empty; it must hold a JSON object."),
    ("--config", "[1]", "the config file must hold a JSON object, not list."),
    ("--state", "{'bookmarks': {}}", "not valid JSON at line 1, column 2 (Expecting property "
                                     "name enclosed in double quotes)."),
    ("--catalog", "   ", "the catalog file is empty; it must hold a JSON object."),
])
def test_a_broken_file_is_one_line_naming_it(fake_graph, tmp_path, option, content, message):
    graph = fake_graph("small")
    (tmp_path / "config.json").write_text(json.dumps(tap_config(graph)))
    (tmp_path / "bad.json").write_text(content)
    args = ["--config", "config.json"] if option != "--config" else []
    done = tap(tmp_path, *args, option, "bad.json")
    assert done.returncode == 1
    assert errors(done.stderr) == [f"tap-meta-bm: error: {option} bad.json: {message}"]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert graph.log == []


def test_a_missing_file_is_one_line(tmp_path):
    done = tap(tmp_path, "--config", "nowhere.json")
    assert done.returncode == 1
    assert errors(done.stderr) == ["tap-meta-bm: error: --config nowhere.json: cannot read "
                                   "the config file (No such file or directory)."]


def test_a_misspelt_setting_stops_before_any_request(fake_graph, tmp_path):
    graph = fake_graph("small")
    config = {**tap_config(graph), "busines_ids": [BUSINESS]}
    line = ("tap-meta-bm: error: Unknown setting 'busines_ids': did you mean 'business_ids'? "
            "Fix its name (tap-meta-bm --about lists every setting).")
    run = run_tap(tmp_path, config)
    assert run.returncode == 1 and errors(run.stderr) == [line]
    assert run.messages == [] and graph.log == []
    (tmp_path / "c.json").write_text(json.dumps(config))
    discover = tap(tmp_path, "--config", "c.json", "--discover")
    assert discover.returncode == 1 and errors(discover.stderr) == [line]
    # A name like no setting is only named: it cannot be a setting the user meant.
    other = run_tap(tmp_path, {**tap_config(graph), "note_to_self": "hi"})
    assert other.returncode == 0, other.stderr[-2000:]
    assert "Unknown setting 'note_to_self': it is ignored." in other.stderr


@pytest.mark.parametrize(("catalog", "line"), [
    ({"streams": "x"}, "'streams' must be a list of stream entries (as --discover writes), "
                       "not str."),
    ({"streams": [{"metadata": []}]}, "streams[0] must be an object with a 'tap_stream_id' "
                                      "(as --discover writes)."),
])
def test_a_catalog_of_the_wrong_shape_is_one_line(tmp_path, catalog, line):
    (tmp_path / "c.json").write_text(json.dumps({"access_token": DEFAULT_TOKEN}))
    (tmp_path / "cat.json").write_text(json.dumps(catalog))
    done = tap(tmp_path, "--config", "c.json", "--catalog", "cat.json")
    assert done.returncode == 1
    assert errors(done.stderr) == [f"tap-meta-bm: error: --catalog cat.json: {line}"]
    assert "Traceback" not in done.stderr


def test_a_selected_stream_the_tap_does_not_have_is_named(fake_graph, tmp_path):
    graph = fake_graph("small")
    catalog = {"streams": [{"tap_stream_id": "campaignz", "schema": {}, "metadata": [
        {"breadcrumb": [], "metadata": {"selected": True}}]}]}
    run = run_tap(tmp_path, tap_config(graph), catalog=catalog)
    assert run.returncode == 1
    assert errors(run.stderr) == [
        "tap-meta-bm: error: --catalog: stream 'campaignz' is selected but this tap has no "
        "such stream (did you mean 'campaigns'?); tap-meta-bm --discover lists them."]
    assert graph.log == []


def test_another_taps_bookmark_shape_is_named(fake_graph, tmp_path):
    graph = fake_graph("small")
    state = {"bookmarks": {"campaigns": {"updated_time": "2024-01-01T00:00:00Z"}}}
    run = run_tap(tmp_path, tap_config(graph), state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    assert ("The state's bookmark of campaigns has keys this tap does not write "
            "(updated_time): they are ignored, and campaigns starts from its own bookmarks or "
            "start_date.") in run.stderr


def test_ids_as_numbers_a_bare_id_and_a_pasted_newline_are_accepted(fake_graph, tmp_path):
    graph = fake_graph("small")
    numbers = run_tap(tmp_path, {**tap_config(graph), "business_ids": [int(BUSINESS)],
                                 "access_token": DEFAULT_TOKEN + "\n"})
    assert numbers.returncode == 0, numbers.stderr[-2000:]
    assert {r["id"] for r in numbers.records("businesses")} == {BUSINESS}
    done = tap(tmp_path, "--config", "ENV", env={
        "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN, "TAP_META_BM_API_URL": graph.url,
        "TAP_META_BM_BUSINESS_IDS": BUSINESS})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f'"stream":"businesses","record":{{"id":"{BUSINESS}"' in done.stdout


def test_a_corrupt_bookmark_stops_before_any_record(fake_graph, tmp_path):
    graph = fake_graph("small")
    state = {"bookmarks": {"campaigns": {"partitions": [{
        "context": {"account_id": "200000000000"}, "replication_key": "updated_time",
        "replication_key_value": "yesterday"}]}}}
    run = run_tap(tmp_path, tap_config(graph), state=state)
    assert run.returncode == 1
    assert errors(run.stderr) == [
        "tap-meta-bm: error: state: stream campaigns, {'account_id': '200000000000'}: "
        "bookmark 'yesterday' is not a date-time; fix or remove it, or drop the state for a "
        "full sync."]
    assert run.messages == [] and graph.log == []


@pytest.mark.parametrize(("state", "warning"), [
    ({"type": "STATE", "value": {"bookmarks": {}}},
     "The state has no 'bookmarks' (it looks like a whole STATE message: save its 'value'): "
     "it is ignored, and this run is a full sync."),
    ({"campaigns": {"replication_key_value": "2024-01-01"}},
     "The state has no 'bookmarks' (top-level keys: campaigns): it is ignored, and this run "
     "is a full sync."),
    ({"bookmarks": {"facebook_ads_insights": {}}},
     "The state has bookmarks for streams this tap does not have (facebook_ads_insights): "
     "they are ignored; it looks like another tap's state, and this run is a full sync."),
])
def test_a_state_the_tap_cannot_use_is_named(fake_graph, tmp_path, state, warning):
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph), state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    assert warning in run.stderr


def test_nothing_listening_names_the_host_at_once(tmp_path):
    done_port = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = done_port.server_address[1]
    done_port.server_close()  # nothing listens there now
    (tmp_path / "c.json").write_text(json.dumps({"access_token": DEFAULT_TOKEN,
                                                 "api_url": f"http://127.0.0.1:{port}"}))
    done = tap(tmp_path, "--config", "c.json")
    assert done.returncode == 1
    assert errors(done.stderr) == [
        f"tap-meta-bm: error: cannot reach 127.0.0.1:{port} (connection refused) for "
        f"businesses edge /me/businesses. Check api_url (http://127.0.0.1:{port}) and the "
        "network."]
    assert "fields=" not in done.stderr and "Retrying" not in done.stderr


def test_an_html_404_is_not_retried(tmp_path):
    hits: list[str] = []

    class NotGraph(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = b"<html><body>Not Found</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            return

    server = HTTPServer(("127.0.0.1", 0), NotGraph)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "c.json").write_text(json.dumps({
            "access_token": DEFAULT_TOKEN, "api_url": f"http://127.0.0.1:{server.server_port}"}))
        done = tap(tmp_path, "--config", "c.json")
    finally:
        server.shutdown()
    assert done.returncode == 1
    assert errors(done.stderr) == [
        "tap-meta-bm: error: Graph refused the request for businesses edge /me/businesses: "
        "HTTP 404 with a body that is not JSON: is api_url a Graph API? [HTTP 404, no code]. "
        "Check the field, parameter or api_version it names."]
    assert len(hits) == 1


def test_unreadable_businesses_and_accounts_matching_nothing(fake_graph, tmp_path):
    graph = fake_graph("small", faults=Faults(denied={(BUSINESS, "")}))
    none = run_tap(tmp_path, {**tap_config(graph), "business_ids": [BUSINESS]})
    assert none.returncode == 1
    assert errors(none.stderr) == [
        f"tap-meta-bm: error: business_ids: the token can read none of the configured "
        f"businesses ({BUSINESS}): the token's system user must belong to each (Business "
        "Settings > System users) and the token needs business_management."]
    healthy = fake_graph("small")
    some = run_tap(tmp_path, {**tap_config(healthy), "business_ids": [BUSINESS, "999"]})
    assert some.returncode == 0, some.stderr[-2000:]
    assert "business_ids: the token cannot read 999; going on with 100000000000" in some.stderr
    assert any("WARNING" in line and "PARTIAL: 1 asset edge(s) skipped" in line
               for line in some.stderr.splitlines())
    nothing = run_tap(tmp_path, {**tap_config(healthy), "account_ids": ["act_123"]})
    assert nothing.returncode == 1
    assert errors(nothing.stderr) == [
        "tap-meta-bm: error: account_ids: none of 123 is an ad account of the businesses read "
        "(owned or shared with them)."]
    # Checked before the first record: nothing was written that the fix would change.
    assert [m for m in nothing.messages if m["type"] == "RECORD"] == []
    # One line: not the SDK's ERROR line for the stream as well, nor a traceback.
    assert [line for line in nothing.stderr.splitlines()
            if "ERROR" in line or "Traceback" in line] == []


def test_an_empty_selection_is_said(fake_graph, tmp_path):
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph), catalog={"streams": []})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "No stream is selected in the catalog: nothing will be synced." in run.stderr


def test_connection_test_output_is_clean(fake_graph, tmp_path):
    graph = fake_graph("small")
    (tmp_path / "c.json").write_text(json.dumps(tap_config(graph)))
    done = tap(tmp_path, "--config", "c.json", "--test")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if "ERROR" in line] == []


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers: a hung proxy or server."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.socket.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


def test_a_silent_server_fails_after_two_read_timeouts_with_one_line(tmp_path, silent_server):
    port = silent_server.port
    (tmp_path / "c.json").write_text(json.dumps({
        "access_token": DEFAULT_TOKEN, "api_url": f"http://127.0.0.1:{port}",
        "request_timeout": 2, "connect_timeout": 1}))
    done = tap(tmp_path, "--config", "c.json")  # a hang would fail on tap()'s own timeout
    assert done.returncode == 1
    assert errors(done.stderr) == [
        f"tap-meta-bm: error: 127.0.0.1:{port} accepted the connection but sent no answer "
        "within request_timeout (2 s), 2 times in a row, for businesses edge /me/businesses. "
        f"Check api_url (http://127.0.0.1:{port}) and the network; for a slow but working "
        "Graph, raise that timeout."]
    assert len(silent_server.accepted) == 2  # SILENT_ATTEMPTS, not six
    doctor = tap(tmp_path, "--config", "c.json", "--doctor")
    assert doctor.returncode == 1
    gaps = [line for line in doctor.stdout.splitlines() if line.startswith("  - ")]
    assert gaps == [
        f"  - Graph could not be reached: 127.0.0.1:{port} accepted the connection but sent no "
        "answer within request_timeout (2 s) for doctor edge /debug_token. Check api_url "
        f"(http://127.0.0.1:{port}) and the network; for a slow but working Graph, raise that "
        "timeout. Fix: Check api_url and the network, then run the doctor again."]


def test_help_lists_the_doctor(tmp_path):
    """The README's first usage step is `--doctor`: `--help` says it is there."""
    done = tap(tmp_path, "--help")
    assert done.returncode == 0
    flat = " ".join(done.stdout.split())
    assert ("--doctor Check what the token can reach, with the fix for each gap; reads nothing "
            "else, exits 1 if a selected stream cannot be served.") in flat
    assert "--format [json|markdown] Output style for --about (json or markdown), or " \
           "--doctor (json)." in flat
