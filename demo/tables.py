"""Text tables for a terminal: columns aligned by display width, every line within WIDTH.

An emoji or a CJK character takes two columns of a terminal, a combining accent none:
padding by `len` shifts every row holding one (the fake's names hold all three). wcwidth is
the maintained measure of what a terminal shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wcwidth import wcswidth

#: The widest line the demo prints.
WIDTH = 100
INDENT = "  "
GAP = "  "
#: Short names of Meta's tasks, so that a cell holds three of them.
TASK_ABBREVIATIONS = {"MANAGE": "MNG", "ADVERTISE": "ADV", "ANALYZE": "ANL", "DRAFT": "DRF",
                      "AA_ANALYZE": "AAN", "CREATE_CONTENT": "CRT", "MODERATE": "MOD",
                      "MESSAGING": "MSG", "PROFILE_PLUS_FULL_CONTROL": "FULL"}


def columns(text: str) -> int:
    """How many terminal columns `text` takes."""
    width = wcswidth(text)
    return width if width >= 0 else len(text)  # a control character: counted as one


def fit(text: str, width: int, *, right: bool = False) -> str:
    """`text` in exactly `width` columns: cut with an ellipsis when longer, padded when
    shorter (on the left when `right`)."""
    if columns(text) > width:
        cut = ""
        for char in text:
            if columns(cut + char) > width - 1:
                break
            cut += char
        text = cut + "…"
    padding = " " * (width - columns(text))
    return padding + text if right else text + padding


def tasks(listed: str | None) -> str:
    """Comma-separated tasks, short: `ADVERTISE,MANAGE` is `ADV+MNG`."""
    if not listed:
        return "-"
    return "+".join(TASK_ABBREVIATIONS.get(task, task) for task in listed.split(","))


def task_legend(listed: Iterable[str | None]) -> str:
    """What the short names of the tasks in `listed` stand for."""
    seen = sorted({task for held in listed if held for task in held.split(",")})
    return "tasks: " + ", ".join(f"{TASK_ABBREVIATIONS.get(task, task)} = {task}"
                                 for task in seen)


@dataclass(frozen=True)
class Column:
    header: str
    width: int
    right: bool = False


class Table:
    """Columns of fixed widths whose sum, with the gaps, fits in WIDTH."""

    def __init__(self, *spec: Column) -> None:
        self.spec = spec
        total = columns(INDENT) + sum(c.width for c in spec) + columns(GAP) * (len(spec) - 1)
        if total > WIDTH:
            raise ValueError(f"a table {total} columns wide does not fit in {WIDTH}")

    def line(self, cells: Sequence[object]) -> str:
        return (INDENT + GAP.join(fit(str(cell), column.width, right=column.right)
                                  for cell, column in zip(cells, self.spec, strict=True))
                ).rstrip()

    def render(self, rows: Iterable[Sequence[object]]) -> list[str]:
        return [self.line([c.header for c in self.spec]), *map(self.line, rows)]


def capped(rows: list[tuple[object, ...]], limit: int, more: str) -> tuple[
        list[tuple[object, ...]], list[str]]:
    """The first `limit` rows, and a line saying how many more there are (`more` names
    them) when there are."""
    if len(rows) <= limit:
        return rows, []
    return rows[:limit], [f"{INDENT}… and {len(rows) - limit} more {more}"]
