"""The demo's tables: aligned by what a terminal shows, within 100 columns, summarised at
scale (demo/tables.py, demo/__main__.py)."""

from __future__ import annotations

import re

import pytest

from demo.__main__ import ACCESS_SHOWN_PER_KIND, access_lines, change_lines, matrix_lines
from demo.tables import WIDTH, Column, Table, columns, fit, tasks

NAMES = ["Rocket 🚀 account 0", "東京 Ads user 0", "Façade Café user 8", "Ünïcödé page 3",
         "O'Brien & Co account 3"]


def test_columns_count_what_a_terminal_shows():
    assert [columns(name) for name in NAMES] == [19, 15, 18, 14, 22]
    assert columns("e\u0301") == 1  # a combining accent takes no column


@pytest.mark.parametrize("name", NAMES)
def test_fit_pads_or_cuts_to_exactly_the_width(name):
    for width in (6, 12, 30):
        assert columns(fit(name, width)) == width
        assert columns(fit(name, width, right=True)) == width
    assert fit("東京 Ads user 0", 8) == "東京 Ad…"
    assert fit("東京 Ads", 4) == "東… "  # a wide character never straddles the edge


def test_every_column_starts_at_the_same_terminal_column_whatever_the_names():
    table = Table(Column("name", 16), Column("tasks", 9), Column("n", 5, right=True))
    lines = table.render([(name, "ADV", n) for n, name in enumerate(NAMES)])
    starts = {(columns(line[:line.index(" ADV")]), columns(line)) for line in lines[1:]}
    assert starts == {(2 + 16 + 1, 2 + 16 + 2 + 9 + 2 + 5)}
    assert columns(lines[0]) == 2 + 16 + 2 + 9 + 2 + 5


def test_a_table_wider_than_the_screen_is_refused():
    with pytest.raises(ValueError, match="a table 102 columns wide does not fit in 100"):
        Table(Column("a", 50), Column("b", 48))


def test_tasks_are_short():
    assert tasks("ADVERTISE,ANALYZE,MANAGE") == "ADV+ANL+MNG"
    assert tasks(None) == "-"


def test_hundreds_of_admins_are_summarised():
    """At --scale medium, 250 admins can grant themselves any task on one account: five are
    named, the rest counted."""
    admins = [("can_grant", "full_control", "business_user", f"Admin {n}",
               "ADVERTISE,ANALYZE,MANAGE") for n in range(250)]
    held = [("holds", "direct", "business_user", name, "ANALYZE") for name in NAMES]
    lines = access_lines("act_1", held + admins)
    assert len(lines) == 4 + 5 + ACCESS_SHOWN_PER_KIND + 1
    assert lines[-1] == "  … and 245 more can_grant full_control"
    assert all(columns(line) <= WIDTH for line in lines)


def test_the_matrix_names_its_accounts_and_counts_what_it_leaves_out():
    rows = [(f"{NAMES[p % 5]} {p}", False, p % 7 == 0, f"act_{a}", f"{NAMES[a % 5]} {a}",
             "ADVERTISE,MANAGE") for p in range(30) for a in range(8)]
    lines = matrix_lines(rows)
    assert lines[2].split() == ["person", "A", "B", "C", "D", "E", "F"]
    assert "  … and 5 more people" in lines
    assert "  A = act_0 Rocket 🚀 account 0 0" in lines
    assert "  (and 2 more ad accounts)" in lines
    assert lines[-1] == "  tasks: ADV = ADVERTISE, MNG = MANAGE"
    assert all(columns(line) <= WIDTH for line in lines)


def test_changes_have_a_header_names_and_a_count_beyond_twenty():
    rows = [("revoked", "AD_ACCOUNT", NAMES[n % 5], f"Person {n}", "ANALYZE", None)
            for n in range(23)]
    lines = change_lines(rows)
    assert lines[2].split() == ["change", "asset", "type", "asset", "person", "tasks"]
    assert re.split(r"\s{2,}", lines[3].strip()) == [
        "revoked", "AD_ACCOUNT", "Rocket 🚀 account 0", "Person 0", "ANL"]
    assert len(lines) == 3 + 20 + 1
    assert lines[-1] == "  … and 3 more changes (meta_bm_marts.access_changes)"
