"""First pages of many partitions in one Graph Batch API call.

Most partitions of a business fit in one page (an ad account's audiences, a page's assigned
users), so a sync is mostly first pages: one HTTPS round trip each, and client CPU per round
trip that exceeds the cost of the records. `FirstPageBatcher` sends up to `MAX_BATCH` upcoming
first pages in one `POST /{version}/` with `batch=[{"method":"GET","relative_url":...}]`.

The batch only changes how a first page travels, never what happens to it: each sub-response
becomes the response of the request it stands for and goes through the client's one error
policy (retry, skip, throttle, shrink, stop) exactly as if it had been sent alone; a failed
retry is sent alone. Batching saves round trips, not quota (each sub-request is a call), so an
object the governor holds back is not batched at all, and neither is anything while usage is
high enough to pace requests.
"""

from __future__ import annotations

import json
import string
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import requests
from requests.structures import CaseInsensitiveDict

from tap_meta_bm.errors import parse_body

#: Graph's own limit of sub-requests per batch.
MAX_BATCH = 50

Read = TypeVar("Read")


@dataclass
class _Slot:
    """The first page of one read: sent, then answered (or not)."""

    response: requests.Response | None = None
    answered: threading.Event = field(default_factory=threading.Event)


def sub_response(prepared: requests.PreparedRequest, item: Any) -> requests.Response | None:
    """One batch answer `{"code", "headers": [{"name", "value"}], "body"}` as a Response;
    None for a sub-request Graph did not answer (it timed out inside the batch)."""
    if not isinstance(item, dict) or not isinstance(item.get("code"), int):
        return None
    response = requests.Response()
    response.status_code = item["code"]
    response.headers = CaseInsensitiveDict({
        str(h.get("name")): str(h.get("value"))
        for h in item.get("headers") or [] if isinstance(h, dict)
    })
    body = item.get("body")
    # requests has no public constructor for a response read from elsewhere; `_content` is
    # what it fills after reading a body (requests-mock builds its responses the same way).
    response._content = body.encode() if isinstance(body, str) else b""
    response.encoding = "utf-8"
    response.request = prepared
    response.url = str(prepared.url)
    return response


class FirstPageBatcher(Generic[Read]):
    """Sends the first pages of `reads` ahead, in order, `MAX_BATCH` at a time, on demand.

    Thread-safe: whichever worker first needs a first page that was not sent yet sends it with
    the next ones that were not sent either; workers needing one of those wait for that batch.
    At most one batch of answers beyond the pages being consumed is held in memory.
    """

    def __init__(
        self,
        reads: Sequence[Read],
        prepare: Callable[[Read], requests.PreparedRequest],
        send: Callable[[list[requests.PreparedRequest]], list[Any] | None],
        may_batch: Callable[[Read], bool],
        size: int = MAX_BATCH,
    ) -> None:
        self._reads = list(reads)
        self._size = min(size, MAX_BATCH)
        self._index = {id(read): i for i, read in enumerate(self._reads)}
        self._prepare = prepare
        self._send = send
        self._may_batch = may_batch
        self._lock = threading.Lock()
        self._claimed = bytearray(len(self._reads))
        self._slots: dict[int, _Slot] = {}

    def first_page(self, read: Read) -> requests.Response | None:
        """The answer to `read`'s first page if it came in a batch; None means: send it
        alone. A retry of a batched answer is always sent alone."""
        index = self._index.get(id(read))
        if index is None:
            return None
        with self._lock:
            group = [] if self._claimed[index] else self._claim_from(index)
            slot = self._slots.get(index)
        if group:
            self._run(group)
        if slot is None:
            return None
        slot.answered.wait()
        with self._lock:
            self._slots.pop(index, None)
        return slot.response

    def _claim_from(self, index: int) -> list[tuple[int, _Slot]]:
        """Claim `index` and the unclaimed reads after it, one batch's worth; those that may
        not be batched now (a blocked object) are claimed too, and go alone."""
        group: list[tuple[int, _Slot]] = []
        position, examined = index, 0
        while position < len(self._reads) and examined < self._size:
            if not self._claimed[position]:
                self._claimed[position] = 1
                examined += 1
                if self._may_batch(self._reads[position]):
                    slot = self._slots[position] = _Slot()
                    group.append((position, slot))
            position += 1
        return group

    def _run(self, group: list[tuple[int, _Slot]]) -> None:
        try:
            if len(group) < 2:
                return  # a batch of one is a plain request with more overhead
            prepared = [self._prepare(self._reads[position]) for position, _ in group]
            answers = self._send(prepared) or []
            for n, ((_, slot), item) in enumerate(zip(group, answers, strict=False)):
                slot.response = sub_response(prepared[n], item)
                answers[n] = None  # each body held once, as text or as bytes, never both
        finally:
            for _, slot in group:
                slot.answered.set()


def batch_form(requests_: list[requests.PreparedRequest], url_base: str,
               appsecret_proof: str | None, access_token: str) -> dict[str, str]:
    """The form of one Batch API call: sub-requests as URLs relative to the version root.

    The token goes in the body too (never a URL), beside the Authorization header: Meta's
    batch reference has sub-requests use the batch's top-level `access_token` parameter, and
    says nothing of a header being inherited; without a token a sub-request fails with 104.
    `appsecret_proof` goes once at the top level, where Graph checks it for the whole batch.
    """
    prefix = url_base.rstrip("/") + "/"
    calls = [{"method": "GET", "relative_url": _without_proof(str(p.url)).removeprefix(prefix)}
             for p in requests_]
    form = {"access_token": access_token,
            "batch": json.dumps(calls, separators=(",", ":")), "include_headers": "true"}
    if appsecret_proof:
        form["appsecret_proof"] = appsecret_proof
    return form


_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PERCENT_ENCODE = str.maketrans({chr(c): f"%{c:02X}" for c in range(128)
                                 if chr(c) not in _UNRESERVED})


def form_encode(form: dict[str, str]) -> str:
    """`application/x-www-form-urlencoded` for ASCII values (what `batch_form` makes: JSON
    with ASCII escapes, URLs already percent-encoded, hex). urlencode quotes character by
    character in Python, costing a millisecond or more per batch."""
    return "&".join(f"{name}={value.translate(_PERCENT_ENCODE)}" for name, value in form.items())


def _without_proof(url: str) -> str:
    base, _, query = url.partition("?")
    kept = [part for part in query.split("&") if part and not part.startswith("appsecret_proof=")]
    return f"{base}?{'&'.join(kept)}" if kept else base


def batch_answers(response: requests.Response) -> list[Any] | None:
    """The list a successful Batch API call returns; None for anything else."""
    if response.status_code != 200:
        return None
    payload = parse_body(response.content)
    return payload if isinstance(payload, list) else None
