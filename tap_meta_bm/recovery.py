"""What the client does after a failed request: a pure decision, the way errors.py classifies.

`errors.classify_graph_error` says what kind of failure an answer is; `decide` turns that
classification, the read it answered and the query that was sent into the steps that mend it
(leave out a field, halve the page, try the Page's own token, wait for the governor) or end it
(skip the edge, stop the run). `RetryPolicy` is the one place that says how often and how
long a transient failure is tried again. Nothing here sends, sleeps, logs or changes a policy:
the client (graph.py) carries the steps out, and tests check a decision without any HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import backoff
import requests

from tap_meta_bm.edges import EdgeRead
from tap_meta_bm.errors import (
    DEPRECATED_VERSION_CODE,
    PAGE_EDGE_REFUSAL_CODES,
    Action,
    AssetSkipped,
    GraphError,
    GraphFatalError,
    GraphUnreachableError,
)
from tap_meta_bm.transport import Endpoint, unreachable, what_failed


@dataclass(frozen=True, slots=True)
class Retry:
    """A transient fault (5xx, code 1 or 2): send again after a backoff, one attempt used."""


@dataclass(frozen=True, slots=True)
class Wait:
    """A throttle: the governor holds the object back; send again when it allows."""


@dataclass(frozen=True, slots=True)
class Shrink:
    """Too much data: halve the page that was sent (`sent_limit`) and send again."""

    sent_limit: int


@dataclass(frozen=True, slots=True)
class DropFields:
    """Ask without these fields from now on. `needed_permission`: fields needing permissions
    of their own (the edge was refused while asked for them), not fields Graph retired."""

    names: tuple[str, ...]
    needed_permission: bool = False


@dataclass(frozen=True, slots=True)
class LeaveOut:
    """Leave these optional parameters out from now on."""

    params: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UsePageToken:
    """Send the Page edge with the Page's own token: for the stream's every Page when Graph
    said so of the stream (`whole_stream`), else for this Page."""

    whole_stream: bool


@dataclass(frozen=True, slots=True)
class RefuseCredential:
    """A partner's token is dead: its reads are skipped for the rest of the run."""


@dataclass(frozen=True, slots=True)
class StopRun:
    """The run's own token is dead: every thread stops."""


@dataclass(frozen=True, slots=True)
class End:
    """No step mends it: raise `failure` (a skip of the edge, or the end of the run)."""

    failure: AssetSkipped | GraphFatalError


Step = Retry | Wait | Shrink | DropFields | LeaveOut | UsePageToken | RefuseCredential | \
    StopRun | End


def decide(read: EdgeRead, error: GraphError, sent: Mapping[str, str],
           sent_with_page_token: bool, api_version: str) -> tuple[Step, ...]:
    """The steps that follow Graph's `error` on `read`, sent with query `sent`."""
    action = error.action
    if read.page_id is not None and error.code in PAGE_EDGE_REFUSAL_CODES and (
            not sent_with_page_token or action in (Action.TOKEN, Action.PAGE_TOKEN)):
        # A Page edge: first the Page's own token, then a skip of that Page; never a dead
        # token, which the Page token's own read (not a Page edge) would reveal. A permission
        # refusal of the Page's token is an ordinary skip (below).
        return (_page_token(read, error, sent_with_page_token,
                            whole_stream=action is Action.PAGE_TOKEN),)
    if action is Action.TOKEN:
        return (RefuseCredential(),) if read.credential is not None else (StopRun(),)
    if error.code == DEPRECATED_VERSION_CODE:
        return (End(version_refused(error, read.where, api_version)),)
    if action is Action.RETRY:
        return (Retry(),)
    if action is Action.THROTTLE:
        return (Wait(),)
    if action is Action.DROP_FIELD:
        return _drop_fields(read, error, sent, api_version)
    if action is Action.PAGE_TOKEN:
        return (_page_token(read, error, sent_with_page_token, whole_stream=True),)
    if action is Action.REQUEST:
        return (_leave_out(read, error, sent),)
    if action is Action.SHRINK:
        sent_limit = int(sent.get("limit") or read.policy.limit)
        if sent_limit <= 1:
            return (End(GraphFatalError(error, f"{read.where} (even limit=1 is too much "
                                               "data; deselect heavy fields of this stream)")),)
        return (Shrink(sent_limit),)
    # Action.SKIP. A permission error on a request that asked for fields needing permissions
    # of their own may be those fields' (Meta's Page reference: such fields throw an error
    # since v12): ask again without them. If Graph still refuses, the edge itself is refused.
    optional = tuple(name for name in _fields(sent) if name in read.policy.optional_fields)
    if optional:
        return (DropFields(optional, needed_permission=True),)
    return (End(AssetSkipped(error, read.where, read.policy.access_hint)),)


def _fields(sent: Mapping[str, str]) -> list[str]:
    return sent.get("fields", "").split(",")


def _page_token(read: EdgeRead, error: GraphError, sent_with_page_token: bool,
                whole_stream: bool) -> Step:
    if read.page_id is None:
        return End(GraphFatalError(error, read.where))  # not a Page edge: a request bug
    if sent_with_page_token:  # the Page's own token was refused as well
        return End(AssetSkipped(GraphError(
            Action.SKIP, error.http_status, error.code, error.subcode,
            f"Graph refused the Page's own token as well ({error.message})",
            fbtrace_id=error.fbtrace_id), read.where))
    return UsePageToken(whole_stream)


def _drop_fields(read: EdgeRead, error: GraphError, sent: Mapping[str, str],
                 api_version: str) -> tuple[Step, ...]:
    """Graph stopped reading a field (Meta removes and renames fields with every version, and
    retires insights metrics): ask without it from now on, unless the run cannot do without
    it. Nothing is left out when any of the fields named ends the read."""
    policy, steps = read.policy, []
    for name in str(error.field).split(","):
        if name in policy.explicit_fields:
            return (End(GraphFatalError(error, read.where, (
                f"{read.where}: Graph {api_version} no longer reads '{name}', which the "
                f"report of stream {policy.stream} names in insights_reports "
                f"[{error.reference}]. Take it out of the report's fields, or pin "
                "api_version to the version that worked."))),)
        if name not in _fields(sent):
            return (End(GraphFatalError(error, read.where)),)  # not asked for: a request bug
        filters = {param: value for param, value in sent.items()
                   if param in policy.optional_params and name in value}
        if filters:
            # The field is also in an optional filter (audiences' undocumented `filtering` on
            # `time_updated`): Graph refused the filter, not the field.
            steps.append(_leave_out(read, error, filters))
            continue
        if name in policy.keys or name == policy.replication_key:
            role = "replication key" if name == policy.replication_key else "key"
            return (End(GraphFatalError(error, read.where, (
                f"{read.where}: Graph {api_version} no longer reads '{name}', the {role} of "
                f"stream {policy.stream}, so the stream cannot be synced "
                f"[{error.reference}]. Pin api_version to the version that worked, or "
                "deselect the stream."))),)
        steps.append(DropFields((name,)))
    return tuple(steps)


def _leave_out(read: EdgeRead, error: GraphError, sent: Mapping[str, str]) -> Step:
    """Only a request that carried an optional parameter is mended by leaving it out."""
    carried = tuple(name for name in read.policy.optional_params if name in sent)
    return LeaveOut(carried) if carried else End(GraphFatalError(error, read.where))


def version_refused(error: GraphError, where: str, api_version: str) -> GraphFatalError:
    newest = re.search(r"\bv\d+\.\d+", error.message)
    return GraphFatalError(error, where, (
        f"Graph no longer serves api_version {api_version}: {error.message} "
        f"[{error.reference}]. Set api_version to "
        f"{newest.group(0) if newest else 'a current version'} (Marketing API versions "
        "live about a year)."))


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and after how long, a failure that may pass is tried again.

    Transient failures (5xx, timeouts, code 1/2) get `transient_attempts` in all per request;
    throttles and page-size shrinks do not use them up (they are waits and changes, not
    faults). A host that does not accept a connection (`connect_timeout`), or accepts it and
    then sends nothing (`request_timeout`), gets fewer: a silent server would otherwise cost
    six read timeouts, half an hour at the defaults. Nothing listening, or no such host, gets
    none.
    """

    transient_attempts: int = 6
    connect_attempts: int = 3
    silent_attempts: int = 2
    backoff_factor_seconds: float = 1.0
    backoff_max_seconds: float = 60.0

    def delays(self) -> Iterator[float]:
        """Exponential backoff with full jitter, one delay per retry."""
        delays = backoff.expo(factor=self.backoff_factor_seconds,
                              max_value=self.backoff_max_seconds)
        next(delays)  # backoff.expo's first value is its priming None
        for delay in delays:
            yield backoff.full_jitter(delay)

    def give_up(self, where: str, failure: Exception, attempts: int, endpoint: Endpoint,
                final: bool = False) -> GraphFatalError | None:
        """The error that ends the read after `attempts` failed (the last one `failure`),
        or None to try again; `final`: no other attempt will be made whatever this says."""
        why = unreachable(failure)
        if why:
            return GraphUnreachableError(GraphError(Action.REQUEST, 0, message=why), where, (
                f"cannot reach {endpoint.host} ({why}) for {where}. Check api_url "
                f"({endpoint.api_url}) and the network."))
        silent = self._silence(failure, endpoint)
        if silent is not None and (attempts >= silent[0] or final):
            what = silent[1]
            times = f", {attempts} times in a row," if attempts > 1 else ""
            return GraphUnreachableError(GraphError(Action.RETRY, 0, message=what), where, (
                f"{endpoint.hostname}:{endpoint.port} {what}{times} for {where}. Check "
                f"api_url ({endpoint.api_url}) and the network; for a slow but working "
                "Graph, raise that timeout."))
        if attempts >= self.transient_attempts:
            what = what_failed(failure, endpoint.host)
            error = getattr(failure, "error", None) or GraphError(Action.RETRY, 0, message=what)
            return GraphFatalError(error, where, (
                f"{where}: still failing after {self.transient_attempts} attempts: {what}. "
                "Meta may be having an outage; rerun later (the state already written lets "
                "the rerun resume)."))
        return None

    def _silence(self, failure: Exception, endpoint: Endpoint) -> tuple[int, str] | None:
        if isinstance(failure, requests.ConnectTimeout):
            return self.connect_attempts, (
                f"did not accept a connection within connect_timeout "
                f"({endpoint.connect_timeout:g} s)")
        if isinstance(failure, requests.ReadTimeout):
            return self.silent_attempts, (
                f"accepted the connection but sent no answer within request_timeout "
                f"({endpoint.timeout:g} s)")
        return None
