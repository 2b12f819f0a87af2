"""Ids as the config and Graph write them, in the one form the tap compares them in."""

from __future__ import annotations

from typing import Any


def id_list(value: Any) -> list[str]:
    """Ids as a list of strings, however they were given: a list, a number, or one string
    (an environment variable holds `123` or `123,456`)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def bare_account_id(account_id: str) -> str:
    """`act_123` or `123` -> `123`: the form Graph's usage headers and `account_id` use."""
    return account_id.removeprefix("act_")
