"""A report's result pages decoded: numbers as numbers, exact to the digit Graph sent."""



from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from types import GenericAlias
from typing import Any, TypedDict

import msgspec

from tap_meta_bm.edges import records_of
from tap_meta_bm.errors import parse_body
from tap_meta_bm.graph_stream import as_integer
from tap_meta_bm.insights.catalog import (
    ACTION_STATS_KEYS,
    FIELD_KINDS,
)
from tap_meta_bm.insights.report import InsightsReport


def exact_number(value: Any) -> Any:
    """Graph's decimal text as an exact Decimal (written as a JSON number, digit for digit);
    a float would turn 0.1 + 0.2 cents into noise."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def exact_count(value: Any) -> Any:
    if isinstance(value, str):
        count = as_integer(value)
        return count if isinstance(count, int) else exact_number(value)
    return value


def _stats(entries: Any) -> Any:
    if not isinstance(entries, list):
        return entries
    for entry in entries:
        if isinstance(entry, dict):
            for key, value in entry.items():
                if isinstance(value, str) and not key.startswith("action_"):
                    entry[key] = exact_number(value)
    return entries


_CONVERT = {"count": exact_count, "number": exact_number, "actions": _stats}
#: What each kind decodes into straight from Graph's text (msgspec, lax: "1200" -> 1200,
#: "61.71" -> 61.71). Money and rates become floats, and still leave as the digits Graph sent:
#: a decimal of at most 15 significant digits survives the trip to a binary64 float and back
#: through its shortest repr (what msgspec writes) digit for digit, and Graph's metrics have
#: fewer (cents of amounts below 10^13, rates to 6 decimals); the test of this proves it over
#: that range. Decimals there cost a quarter of the tap's CPU per row: a Python object built,
#: and later printed, for each of the ~50 numbers of a row with its action lists.
#: TypedDict and list[...] built from names known at run time (mypy checks literal ones only).
_typed_dict: Any = TypedDict
_ACTION_STAT_TYPE = _typed_dict("ActionStat", {
    k: str if k.startswith("action_") else float for k in ACTION_STATS_KEYS}, total=False)
_DECODED: dict[str, Any] = {"text": str, "count": int | float, "number": float,
                            "actions": GenericAlias(list, (_ACTION_STAT_TYPE,)),
                            "histogram": Any, "objects": Any}


def page_type(report: InsightsReport) -> Any:
    """A results page of `report` as a msgspec type: its rows come out of the decoder with
    numbers already numbers. Keys outside the type (none Graph sends for what was asked)
    would be left out."""
    row = _typed_dict("Row", {
        **{name: _DECODED[FIELD_KINDS[name]] for name in report.columns()},
        **dict.fromkeys(report.breakdowns, str)}, total=False)
    return _typed_dict("Page", {"data": GenericAlias(list, (row,)), "paging": Any,
                                "error": Any}, total=False)


def page_decoder(report: InsightsReport) -> Callable[[bytes], Any]:
    """A results page of `report` to its JSON, numbers as numbers: in one pass in C, or, for a
    page that does not fit `page_type` (a value Graph has never sent there), decoded as it is
    and converted row by row (`_CONVERT`)."""
    typed = msgspec.json.Decoder(page_type(report), strict=False)
    conversions = [(name, _CONVERT[FIELD_KINDS[name]]) for name in report.columns()
                   if FIELD_KINDS[name] in _CONVERT]

    def decode(body: bytes) -> Any:
        if not body:
            return None
        try:
            return typed.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            page = parse_body(body)
        for row in records_of(page):
            for name, convert in conversions:
                value = row.get(name)
                if value is not None:
                    row[name] = convert(value)
        return page

    return decode
