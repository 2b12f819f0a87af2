"""Bad settings stop the tap before any request, with one line naming the setting."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import requests_mock

from tap_meta_bm import cli, settings
from tap_meta_bm.errors import ConfigError
from tap_meta_bm.settings import check_config
from tap_meta_bm.tap import TapMetaBM
from tests.helpers import TAP_COMMAND, TOKEN

GOOD = {"access_token": TOKEN, "business_ids": ["111"]}


@pytest.mark.parametrize(("change", "message"), [
    ({"access_token": None}, "access_token: missing. Set it to the system user's token (config "
                             "file, or TAP_META_BM_ACCESS_TOKEN with --config ENV)."),
    ({"access_token": "  "}, "access_token: missing. Set it to the system user's token (config "
                             "file, or TAP_META_BM_ACCESS_TOKEN with --config ENV)."),
    ({"business_ids": ["12a"]}, "business_ids: '12a' is not a numeric business id (Business "
                                "Settings > Business info)."),
    ({"business_ids": "111"}, "business_ids: must be a list of ids, got str."),
    ({"account_ids": ["act_x"]}, "account_ids: 'act_x' is not an ad account id like act_123 or "
                                 "123."),
    ({"start_date": "last tuesday"}, "start_date: 'last tuesday' is not a date-time; use e.g. "
                                     "2024-01-01T00:00:00Z."),
    ({"start_date": "2030-01-01T00:00:00Z"}, "start_date: '2030-01-01T00:00:00Z' is in the "
                                             "future; set it to the first day to read, today "
                                             "or earlier."),
    ({"api_version": "v26"}, "api_version: 'v26' must look like v26.0."),
    ({"api_version": "26.0"}, "api_version: '26.0' must look like v26.0."),
    ({"api_url": "ftp://graph.facebook.com"}, "api_url: 'ftp://graph.facebook.com' must be an "
                                              "http(s) URL such as https://graph.facebook.com."),
    ({"api_url": "graph.facebook.com"}, "api_url: 'graph.facebook.com' must be an http(s) URL "
                                        "such as https://graph.facebook.com."),
    ({"page_size": 0}, "page_size: 0 must be a whole number from 1 to 500."),
    ({"page_size": 501}, "page_size: 501 must be a whole number from 1 to 500."),
    ({"page_size": 2.5}, "page_size: 2.5 must be a whole number from 1 to 500."),
    ({"page_size": "500"}, 'page_size: \'500\' is text; write the number without quotes '
                           '("page_size": 500).'),
    ({"page_size": "many"}, "page_size: 'many' must be a whole number from 1 to 500."),
    ({"max_workers": 0}, "max_workers: 0 must be a whole number from 1 to 64."),
    ({"batch_config": {"encoding": {"format": "parquet"},
                       "storage": {"root": "file:///tmp/batches"}}},
     "batch_config.encoding.format: 'parquet' is not written by this tap; use \"jsonl\"."),
    ({"batch_config": {"storage": {"root": "s3://bucket/batches"}}},
     "batch_config.storage.root: 's3://bucket/batches' must be a local directory as a file:// "
     "URL (file:///path/to/dir)."),
    ({"batch_config": {"storage": {"root": "file:///tmp/batches"}, "batch_size": 0}},
     "batch_config.batch_size: 0 must be a whole number of records per file, 1 or more."),
    ({"usage_threshold_pct": 101}, "usage_threshold_pct: 101 must be a whole number from 1 to "
                                   "100."),
])
def test_bad_setting_exits_before_any_request(change, message, tmp_path, monkeypatch, capsys):
    config = {**GOOD, **change}
    config = {k: v for k, v in config.items() if v is not None}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    monkeypatch.setattr("sys.argv", ["tap-meta-bm", "--config", str(path)])
    with requests_mock.Mocker() as graph:
        graph.get(re.compile(".*"), json={"data": []})
        with pytest.raises(SystemExit) as exited:
            cli.main()
        assert graph.call_count == 0
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert [line for line in err.splitlines() if line.startswith("tap-meta-bm: error")] == [
        f"tap-meta-bm: error: {message}"]
    assert TOKEN not in err


def test_bad_setting_output_is_one_plain_line_from_the_installed_command(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**GOOD, "business_ids": ["acme"]}))
    done = subprocess.run([TAP_COMMAND, "--config", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    problems = [line for line in done.stderr.splitlines()
                if "ERROR" in line or "error" in line or "Traceback" in line]
    assert problems == ["tap-meta-bm: error: business_ids: 'acme' is not a numeric business id "
                        "(Business Settings > Business info)."]


def test_a_start_date_up_to_a_day_ahead_is_accepted(wall_clock):
    """An account's day can be ahead of UTC's; a day later than that is refused."""
    from datetime import timedelta
    tomorrow = wall_clock.today + timedelta(days=1)
    check_config({**GOOD, "start_date": f"{tomorrow.isoformat()}T00:00:00Z"})
    with pytest.raises(ConfigError, match="is in the future"):
        check_config({**GOOD, "start_date": f"{tomorrow.isoformat()}T13:00:00Z"})


def test_good_config_gets_defaults():
    tap = TapMetaBM(config=GOOD)
    assert {k: tap.config[k] for k in settings.DEFAULTS} == settings.DEFAULTS


def test_business_ids_from_env_are_parsed(monkeypatch):
    monkeypatch.setenv("TAP_META_BM_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("TAP_META_BM_BUSINESS_IDS", '["111","222"]')
    tap = TapMetaBM(config=None, parse_env_config=True)
    assert tap.config["business_ids"] == ["111", "222"]


def test_a_value_only_the_schema_refuses_is_one_line_too(tmp_path, monkeypatch, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**GOOD, "include_archived": "yes"}))
    monkeypatch.setattr("sys.argv", ["tap-meta-bm", "--config", str(path)])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    _, err = capsys.readouterr()
    assert [line for line in err.splitlines() if line.startswith("tap-meta-bm: error")] == [
        "tap-meta-bm: error: 'yes' is not of type 'boolean', 'null' in "
        "config['include_archived'] (see tap-meta-bm --about for every setting)."]


def test_limits_are_in_the_schema_that_about_shows():
    done = subprocess.run([TAP_COMMAND, "--about", "--format", "json"], capture_output=True,
                          text=True, timeout=60, check=True)
    settings = json.loads(done.stdout)["settings"]["properties"]
    assert {name: (settings[name]["minimum"], settings[name]["maximum"])
            for name in ("page_size", "max_workers", "request_timeout",
                         "usage_threshold_pct")} == {
        "page_size": (1, 500), "max_workers": (1, 64), "request_timeout": (1, 3600),
        "usage_threshold_pct": (1, 100)}
    assert settings["api_version"]["pattern"] == r"^v\d{1,3}\.\d$"
    assert settings["business_ids"]["items"]["pattern"] == r"^\d+$"


def test_python_dash_m_is_the_same_command():
    import sys
    done = subprocess.run([sys.executable, "-m", "tap_meta_bm", "--about", "--format", "json"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout)["name"] == "tap-meta-bm"
