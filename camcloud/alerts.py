"""Alerts: detect cameras gone quiet (and back), error records, lost frames, a falling heap, failed
firmware updates and a non-empty thumbnailer dead-letter queue; keep incidents; queue messages.

:func:`check` is one pass, what the schedule (every 5 minutes), the local stack's timer and
``camcloud alerts check`` run. It reads the summaries under ``status/`` (see
:mod:`camcloud.status`) and its own state ``alerts/state.json``, and writes:

- ``alerts/state.json``: what it learned per camera, the open incidents and the messages not yet
  delivered (per target). Written with ``If-Match`` so that two concurrent checks never both
  send the same message: the loser stops before delivering anything.
- ``alerts/open.json``: the open incidents alone (what the cameras page shows), on change.
- ``alerts/history/{device}/{rev}_{kind}.json``: one object per incident, written when it opens
  and rewritten when it closes (``rev`` sorts newest first, as under ``raw/``).

A message is queued when an incident opens and when it closes, never on a check that changes
nothing. Quiet hours hold a target's messages; when they end the held messages go out as one
digest (an incident that opened and closed inside the quiet hours is listed, not dropped).
A message a target failed to take stays queued for the next check, for up to a day.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError

from camcloud import cadence, s3, status
from camcloud.device_config import check_setting
from camcloud.errors import Refusal
from camcloud.layout import check_device_id, rev_from_ms

SCHEMA = 1
ALERTS_PREFIX = "alerts/"
STATE_KEY = "alerts/state.json"
OPEN_KEY = status.OPEN_INCIDENTS_KEY  # "alerts/open.json"; the ingest reads it too
HISTORY_PREFIX = "alerts/history/"
# Incidents that belong to no camera (the thumbnailer's dead-letter queue) file their history here.
SYSTEM = "_system"

KINDS = ("silent", "errors", "frames_lost", "heap_falling", "ota_failed", "dlq")
_RACE_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


@dataclass(frozen=True)
class AlertRules:
    """The thresholds of the detectors (seconds unless named otherwise)."""

    silence_factor: float = 3.0
    # Never call a camera silent sooner than this, whatever its interval: it also covers the
    # summaries being up to 5 minutes old.
    silence_floor_s: float = 600.0
    # Until a camera's interval is learned (or configured), be patient.
    unlearned_silence_s: float = 6 * 3600.0
    # The interval is learned from this many gaps at least (bursts count as one capture:
    # cadence.BURST_GAP_S), over the last ``times_kept`` on-time captures.
    min_gaps: int = 3
    times_kept: int = 17
    error_streak: int = 3
    frames_quiet_s: float = 3600.0
    heap_window: int = 16
    heap_drop: float = 0.75
    heap_recover: float = 0.9
    dlq_threshold: int = 1
    # Writers write at least every 5 minutes while anything changed: samples older than this
    # horizon are complete across writers and can be consumed in order.
    writer_horizon_s: float = 360.0
    stale_writer_s: float = 7 * 86400.0
    outbox_max_age_s: float = 86400.0
    outbox_max: int = 100
    digest_over: int = 3


def parse_quiet_hours(text: str) -> tuple[int, int]:
    """``"22:00-07:00"`` -> (start, end) in minutes after midnight; ValueError if malformed."""
    try:
        start_text, end_text = text.strip().split("-")
        minutes = []
        for part in (start_text, end_text):
            hours, mins = part.strip().split(":")
            if not (hours.isdigit() and mins.isdigit() and len(mins) == 2):
                raise ValueError
            h, m = int(hours), int(mins)
            if not (0 <= h <= 23 and 0 <= m <= 59):
                raise ValueError
            minutes.append(h * 60 + m)
    except ValueError:
        raise ValueError(f"quiet hours {text!r}: expected HH:MM-HH:MM, e.g. 22:00-07:00") from None
    if minutes[0] == minutes[1]:
        raise ValueError(f"quiet hours {text!r}: start and end are the same")
    return minutes[0], minutes[1]


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone, else raise ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use e.g. UTC or Europe/Berlin") from None
    return name


@dataclass(frozen=True)
class TargetRule:
    """What the check needs to know of a delivery target: its id and its quiet hours."""

    id: str
    quiet_hours: str | None = None
    timezone: str = "UTC"

    def quiet_at(self, now: float) -> bool:
        """Whether ``now`` (Unix seconds) falls inside this target's quiet hours."""
        if not self.quiet_hours:
            return False
        start, end = parse_quiet_hours(self.quiet_hours)
        local = datetime.fromtimestamp(now, ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end


@dataclass(frozen=True)
class Outgoing:
    """One notification for one target; ``message_ids`` are the queued messages it carries."""

    target_id: str
    title: str
    body: str
    severity: str  # "failure" (an incident opened), "success" (closed), "info" (digest, test)
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryReport:
    """How delivering one :class:`Outgoing` went."""

    target_id: str
    message_ids: tuple[str, ...]
    ok: bool
    reason: str = ""
    attempts: int = 1


Deliver = Callable[[list[Outgoing]], list[DeliveryReport]]


@dataclass
class CheckResult:
    """What one pass did."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    open_incidents: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    held: int = 0
    dropped: int = 0
    summaries_read: int = 0
    raced: bool = False

    def summary(self) -> str:
        """One line for ``camcloud alerts check`` and the scheduled function's log."""
        if self.raced and not (self.opened or self.closed or self.delivered):
            return "another check ran at the same time; nothing done"
        line = (f"{len(self.opened)} opened, {len(self.closed)} closed, "
                f"{len(self.open_incidents)} open; {self.delivered} delivered")
        if self.held:
            line += f", {self.held} held (quiet hours)"
        if self.dropped:
            line += f", {self.dropped} dropped (undeliverable for a day)"
        for target_id, reason in self.failures:
            line += f"; {target_id} failed: {reason}"
        return line


# --- durations and messages -------------------------------------------------------------------


def describe_duration(seconds: float) -> str:
    """``47 min``, ``3 h 5 min``, ``2 d 4 h``: a duration as a person says it."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- learning ---------------------------------------------------------------------------------


def usual_interval(camera: dict[str, Any], rules: AlertRules) -> float | None:
    """The camera's usual interval in seconds: configured, else learned, else None."""
    configured = camera.get("interval_s")
    if isinstance(configured, int | float) and configured > 0:
        return float(configured)
    times = camera.get("times") or []
    return cadence.usual_interval([t / 1000 for t in times], min_gaps=rules.min_gaps)


def silence_after(camera: dict[str, Any], rules: AlertRules) -> float:
    """Seconds of silence after which the camera counts as silent."""
    interval = usual_interval(camera, rules)
    if interval is None:
        return max(rules.silence_floor_s, rules.unlearned_silence_s)
    return max(rules.silence_floor_s, rules.silence_factor * interval)


def _new_camera() -> dict[str, Any]:
    return {
        "last_upload": None, "last_checkin": None, "interval_s": None, "active_hours": None,
        "firmware": None, "times": [], "consumed": None, "pending": [],
        "heap": [], "frames": None, "frames_lost_at": None, "frames_lost": 0,
        "last_ok": None, "last_error": None, "error_code": None, "error_streak": 0, "ota": None,
    }


def _upgrade_camera(camera: dict[str, Any]) -> dict[str, Any]:
    """A camera's stored state with every field this version keeps (older states lack some)."""
    upgraded = {**_new_camera(), **camera}
    gaps, last = upgraded.pop("gaps", None), upgraded.pop("prev_t", None)
    if not upgraded["times"] and isinstance(last, int):
        # The state kept the gaps and the last on-time capture before the rhythm rule moved to
        # camcloud.cadence: rebuild the capture times so that nothing learned is lost.
        times = [last]
        for gap in reversed(gaps if isinstance(gaps, list) else []):
            if isinstance(gap, int | float) and gap > 0:
                times.insert(0, times[0] - int(round(gap * 1000)))
        upgraded["times"] = times
    return upgraded


def _active_hours(value: Any) -> str | None:
    """A summary's active hours in canonical form; anything unreadable counts as all day."""
    try:
        hours = check_setting("active_hours", value)
    except Refusal:
        return None
    return hours if isinstance(hours, str) else None


def _later(a: int | None, b: Any) -> int | None:
    if not isinstance(b, int):
        return a
    return b if a is None or b > a else a


def _merge_writer(
    state: dict[str, Any], writer: str, document: dict[str, Any], modified_ms: int
) -> None:
    """Fold one writer's summary into the per-camera state (idempotent per ETag)."""
    writers = state["writers"]
    seen = writers.get(writer, {}).get("seen", {})
    new_seen: dict[str, dict[str, int]] = {}
    for device, summary in document["cameras"].items():
        try:
            check_device_id(device)
            if not isinstance(summary, dict):
                raise TypeError("not an object")
            int(summary.get("processed") or 0), int(summary.get("errors") or 0)
        except (ValueError, TypeError):
            continue  # a summary we cannot read must not stop the alerts for everyone else
        camera = state["cameras"].setdefault(device, _new_camera())
        if _later(camera["last_upload"], summary.get("last_upload")) != camera["last_upload"]:
            if isinstance(summary.get("firmware"), str):
                camera["firmware"] = summary["firmware"]
            if isinstance(summary.get("interval_s"), int):
                camera["interval_s"] = summary["interval_s"]
            if "active_hours" in summary:  # an older writer does not know them: keep ours
                camera["active_hours"] = _active_hours(summary["active_hours"])
        camera["last_upload"] = _later(camera["last_upload"], summary.get("last_upload"))
        camera["last_checkin"] = _later(camera["last_checkin"], summary.get("last_checkin"))
        before = seen.get(device, {"processed": 0, "errors": 0})
        processed = int(summary.get("processed") or 0)
        errors = int(summary.get("errors") or 0)
        new_errors = max(0, errors - before["errors"])
        new_ok = max(0, (processed - errors) - (before["processed"] - before["errors"]))
        # A writer we forgot (pruned) starts again from zero: only count what is newer than
        # anything already known, so old error records are never counted twice.
        if writer not in writers:
            if not (isinstance(summary.get("last_error"), int)
                    and summary["last_error"] > (camera["last_error"] or 0)):
                new_errors = 0
            if not (isinstance(summary.get("last_ok"), int)
                    and summary["last_ok"] > (camera["last_ok"] or 0)):
                new_ok = 0
        new_seen[device] = {"processed": processed, "errors": errors}
        camera["last_ok"] = _later(camera["last_ok"], summary.get("last_ok"))
        if _later(camera["last_error"], summary.get("last_error")) != camera["last_error"]:
            camera["error_code"] = summary.get("error_code")
        camera["last_error"] = _later(camera["last_error"], summary.get("last_error"))
        if new_ok or new_errors:
            last_ok, last_error = camera["last_ok"], camera["last_error"]
            if last_ok is not None and (last_error is None or last_ok > last_error):
                camera["error_streak"] = 0
            elif new_ok:
                # Good and bad records in one window, the bad ones last: the streak is at most
                # the bad ones of this window.
                camera["error_streak"] = new_errors
            else:
                camera["error_streak"] += new_errors
        ota = summary.get("ota")
        if isinstance(ota, dict) and isinstance(ota.get("at"), int):
            if camera["ota"] is None or ota["at"] > camera["ota"]["at"]:
                camera["ota"] = {"at": ota["at"], "result": str(ota.get("result", "")),
                                 "version": ota.get("version")}
        pending = {sample[0]: sample for sample in camera["pending"]}
        consumed = camera["consumed"]
        for sample in summary.get("samples") or []:
            if (isinstance(sample, list) and len(sample) == 4 and isinstance(sample[0], int)
                    and (consumed is None or sample[0] > consumed)):
                pending[sample[0]] = sample
        camera["pending"] = [pending[t] for t in sorted(pending)]
    writers[writer] = {"seen": new_seen, "modified": modified_ms}


def _consume_samples(camera: dict[str, Any], horizon_ms: int, rules: AlertRules) -> None:
    """Learn from the samples every writer has written by now, in time order."""
    pending = camera["pending"]
    # Keep the queue bounded even if a writer floods it: the oldest are consumed early.
    overflow = max(0, len(pending) - 4 * status.SAMPLES_KEPT)
    ready = [s for i, s in enumerate(pending) if s[0] <= horizon_ms or i < overflow]
    camera["pending"] = pending[len(ready):]
    for t, late, heap, frames in ready:
        if not late:
            times = cadence.remember([x / 1000 for x in camera["times"]], t / 1000,
                                     keep=rules.times_kept)
            camera["times"] = [int(round(x * 1000)) for x in times]
        if isinstance(heap, int):
            camera["heap"] = (camera["heap"] + [heap])[-rules.heap_window:]
        if isinstance(frames, int):
            previous = camera["frames"]
            # frames_lost counts since boot: a rise is new loss; a drop is a reboot, after which
            # any non-zero count is new loss too. The first value ever seen is only a baseline.
            lost = 0
            if previous is not None:
                lost = frames - previous if frames >= previous else frames
            if lost > 0:
                camera["frames_lost_at"] = t
                camera["frames_lost"] += lost
            camera["frames"] = frames
        camera["consumed"] = t


# --- detection --------------------------------------------------------------------------------


def _median(values: Sequence[int]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Verdict:
    """What one detector concludes of a camera: its condition holds (open) or cleared (close)."""

    kind: str
    device: str
    holds: bool
    title: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)


def detect(
    state: dict[str, Any],
    now_ms: int,
    rules: AlertRules,
    dlq_depth: int | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Open and close incidents in ``state`` (pure); return (opened, closed)."""
    incidents: dict[str, dict[str, Any]] = state["incidents"]
    verdicts = [verdict
                for device, camera in sorted(state["cameras"].items())
                for verdict in judge_camera(device, camera, incidents, now_ms, rules)]
    verdicts.extend(_judge_dlq(dlq_depth, rules))
    return apply_verdicts(verdicts, incidents, now_ms)


def judge_camera(device: str, camera: dict[str, Any], incidents: dict[str, dict[str, Any]],
                 now_ms: int, rules: AlertRules) -> list[Verdict]:
    """Every detector's verdict on one camera; a detector without an opinion says nothing."""
    verdicts = [
        _judge_silence(device, camera, incidents, now_ms, rules),
        _judge_errors(device, camera, now_ms, rules),
        _judge_frames(device, camera, now_ms, rules),
        _judge_heap(device, camera, incidents, rules),
        _judge_ota(device, camera),
    ]
    return [verdict for verdict in verdicts if verdict is not None]


def apply_verdicts(verdicts: Sequence[Verdict], incidents: dict[str, dict[str, Any]],
                   now_ms: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Open what holds and is not open yet, close what cleared and is open: the transitions."""
    opened: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    for verdict in verdicts:
        incident_id = f"{verdict.kind}:{verdict.device}"
        if verdict.holds and incident_id not in incidents:
            incident = {"id": incident_id, "kind": verdict.kind, "device": verdict.device,
                        "opened_at": now_ms, "title": verdict.title, "detail": verdict.detail,
                        **verdict.extra}
            incidents[incident_id] = incident
            opened.append(incident)
        elif not verdict.holds and incident_id in incidents:
            closed.append({**incidents.pop(incident_id), "closed_at": now_ms,
                           "close_title": verdict.title, "close_detail": verdict.detail})
    return opened, closed


def _active_hours_of(camera: dict[str, Any]) -> str | None:
    hours = camera.get("active_hours")
    return hours if isinstance(hours, str) else None


def quiet_seconds(camera: dict[str, Any], contact_ms: int, now_ms: int) -> float:
    """How long the camera has been quiet, counting only its active hours (all day: all of it).

    The same rule as the cameras page's stale badge (:func:`camcloud.cadence.quiet_seconds`).
    """
    return cadence.quiet_seconds(contact_ms / 1000, now_ms / 1000, _active_hours_of(camera))


def _judge_silence(device: str, camera: dict[str, Any], incidents: dict[str, dict[str, Any]],
                   now_ms: int, rules: AlertRules) -> Verdict | None:
    contacts = [t for t in (camera["last_upload"], camera["last_checkin"]) if t is not None]
    if not contacts:
        return None
    contact = max(contacts)
    quiet = quiet_seconds(camera, contact, now_ms)
    if quiet > silence_after(camera, rules):
        usual = usual_interval(camera, rules)
        usually = f"usually every {describe_duration(usual)}" if usual else "interval unknown"
        hours = _active_hours_of(camera)
        within = f" within its active hours {hours} {cadence.ACTIVE_HOURS_ZONE}" if hours else ""
        return Verdict("silent", device, True, f"{device} is silent",
                       f"{device} has sent nothing since {_utc(contact)} "
                       f"({describe_duration(quiet)}{within}; {usually}).",
                       {"since": contact})
    incident = incidents.get(f"silent:{device}")
    if incident is None:
        return None
    silent_for = (contact - incident.get("since", contact)) / 1000
    return Verdict("silent", device, False, f"{device} is back",
                   f"{device} is back at {_utc(contact)} after "
                   f"{describe_duration(silent_for)} of silence.")


def _judge_errors(device: str, camera: dict[str, Any], now_ms: int,
                  rules: AlertRules) -> Verdict | None:
    if camera["error_streak"] >= rules.error_streak:
        return Verdict("errors", device, True, f"{device}: captures are failing",
                       f"The last {camera['error_streak']} captures of {device} became error "
                       f"records ({camera['error_code'] or 'unknown reason'}).")
    if camera["error_streak"] == 0:
        return Verdict("errors", device, False, f"{device}: captures are good again",
                       f"{device} sent a good capture at {_utc(camera['last_ok'] or now_ms)}.")
    return None


def _judge_frames(device: str, camera: dict[str, Any], now_ms: int,
                  rules: AlertRules) -> Verdict | None:
    lost_at = camera["frames_lost_at"]
    if lost_at is not None and (now_ms - lost_at) / 1000 < rules.frames_quiet_s:
        return Verdict("frames_lost", device, True, f"{device} is dropping frames",
                       f"{device} dropped frames (its backlog was full); "
                       f"{camera['frames_lost']} lost so far.")
    if (lost_at is not None and camera["last_upload"] is not None
            and camera["last_upload"] > lost_at):
        return Verdict("frames_lost", device, False, f"{device} no longer drops frames",
                       f"No frame lost by {device} for "
                       f"{describe_duration(rules.frames_quiet_s)}.")
    return None


def _judge_heap(device: str, camera: dict[str, Any], incidents: dict[str, dict[str, Any]],
                rules: AlertRules) -> Verdict | None:
    heap = camera["heap"]
    incident = incidents.get(f"heap_falling:{device}")
    if incident is None and len(heap) >= 8:
        baseline, recent = _median(heap[:4]), _median(heap[-4:])
        if recent < rules.heap_drop * baseline:
            return Verdict("heap_falling", device, True, f"{device}: free memory is falling",
                           f"The largest free heap block of {device} fell from {int(baseline)} "
                           f"to {int(recent)} bytes across its recent captures.",
                           {"baseline": baseline})
    elif incident is not None and len(heap) >= 4:
        recent = _median(heap[-4:])
        if recent >= rules.heap_recover * float(incident.get("baseline", 0)):
            return Verdict("heap_falling", device, False, f"{device}: free memory recovered",
                           f"The largest free heap block of {device} is back at {int(recent)} "
                           "bytes.")
    return None


def _judge_ota(device: str, camera: dict[str, Any]) -> Verdict | None:
    ota = camera["ota"]
    if ota is None:
        return None
    if str(ota["result"]).startswith("failed"):
        return Verdict("ota_failed", device, True, f"{device}: firmware update failed",
                       f"{device} could not install firmware {ota.get('version') or '?'}: "
                       f"{ota['result']}.")
    if str(ota["result"]).startswith("ok"):
        return Verdict("ota_failed", device, False, f"{device}: firmware updated",
                       f"{device} installed firmware {ota.get('version') or '?'}.")
    return None


def _judge_dlq(dlq_depth: int | None, rules: AlertRules) -> list[Verdict]:
    if dlq_depth is None:
        return []
    if dlq_depth >= rules.dlq_threshold:
        return [Verdict("dlq", SYSTEM, True, "Thumbnailer failures",
                        f"{dlq_depth} capture events are in the thumbnailer's dead-letter queue; "
                        "`camcloud reprocess` makes them again.", {"depth": dlq_depth})]
    return [Verdict("dlq", SYSTEM, False, "Thumbnailer dead-letter queue empty",
                    "The thumbnailer's dead-letter queue is empty again.")]


# --- messages and delivery --------------------------------------------------------------------


def _queue(state: dict[str, Any], targets: Sequence[TargetRule], now_ms: int,
           opened: list[dict[str, Any]], closed: list[dict[str, Any]], rules: AlertRules) -> int:
    """Queue one message per transition for every target; return how many were dropped."""
    outbox: dict[str, list[dict[str, Any]]] = state["outbox"]
    wanted = {target.id for target in targets}
    for target_id in list(outbox):
        if target_id not in wanted:
            del outbox[target_id]
    messages = [
        {"id": f"{i['id']}@{i['opened_at']}:opened", "title": i["title"], "body": i["detail"],
         "severity": "failure", "at": now_ms}
        for i in opened
    ] + [
        {"id": f"{i['id']}@{i['opened_at']}:closed", "title": i["close_title"],
         "body": i["close_detail"], "severity": "success", "at": now_ms}
        for i in closed
    ]
    dropped = 0
    for target in targets:
        queue = outbox.setdefault(target.id, [])
        queue.extend(dict(message) for message in messages)
        fresh = [m for m in queue if (now_ms - m["at"]) / 1000 <= rules.outbox_max_age_s]
        fresh = fresh[-rules.outbox_max:]
        dropped += len(queue) - len(fresh)
        outbox[target.id] = fresh
        if not fresh:
            del outbox[target.id]
    return dropped


def _outgoing(target: TargetRule, queue: list[dict[str, Any]], rules: AlertRules) -> list[Outgoing]:
    """What to send a target now: each message, or one digest after quiet hours or a storm."""
    if len(queue) <= rules.digest_over and not any(m.get("held") for m in queue):
        return [Outgoing(target.id, m["title"], m["body"], m["severity"], (m["id"],))
                for m in queue]
    lines = [f"- {_utc(m['at'])}: {m['title']}. {m['body']}" for m in queue]
    return [Outgoing(target.id, f"camcloud: {len(queue)} alerts", "\n".join(lines), "info",
                     tuple(m["id"] for m in queue))]


def _deliver(state: dict[str, Any], targets: Sequence[TargetRule], now: float, deliver: Deliver,
             rules: AlertRules, result: CheckResult) -> bool:
    """Send what is queued to targets outside their quiet hours; True if the outbox changed."""
    outbox: dict[str, list[dict[str, Any]]] = state["outbox"]
    batch: list[Outgoing] = []
    changed = False
    for target in targets:
        queue = outbox.get(target.id) or []
        if not queue:
            continue
        if target.quiet_at(now):
            for message in queue:
                if not message.get("held"):
                    message["held"] = True
                    changed = True
            result.held += len(queue)
            continue
        batch.extend(_outgoing(target, queue, rules))
    if not batch:
        return changed
    for report in deliver(batch):
        queue = outbox.get(report.target_id) or []
        if report.ok:
            done = set(report.message_ids)
            outbox[report.target_id] = [m for m in queue if m["id"] not in done]
            if not outbox[report.target_id]:
                del outbox[report.target_id]
            result.delivered += 1
        else:
            for message in queue:
                if message["id"] in report.message_ids:
                    message["attempts"] = message.get("attempts", 0) + report.attempts
                    message["last_error"] = report.reason[:300]
            if report.attempts:  # messages skipped after their target's failure: said once
                result.failures.append((report.target_id, report.reason))
    return True


# --- state in S3 ------------------------------------------------------------------------------


def _empty_state() -> dict[str, Any]:
    return {"schema": SCHEMA, "writers": {}, "cameras": {}, "incidents": {}, "outbox": {}}


def _encode(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _load_state(client: Any, bucket: str) -> tuple[dict[str, Any], str | None, bytes]:
    try:
        response = client.get_object(Bucket=bucket, Key=STATE_KEY)
    except ClientError as exc:
        if s3.is_missing(exc):
            state = _empty_state()
            return state, None, _encode(state)
        raise
    body = response["Body"].read()
    try:
        state = json.loads(body)
        if not isinstance(state, dict):
            raise ValueError("not an object")
    except ValueError:
        # A damaged state must not stop the alerts forever: start again (incidents still open
        # will be reported once more) and overwrite it, still guarded by its ETag.
        state = _empty_state()
    for name, value in _empty_state().items():
        state.setdefault(name, value)
    state["cameras"] = {device: _upgrade_camera(camera)
                        for device, camera in state["cameras"].items() if isinstance(camera, dict)}
    return state, str(response["ETag"]), _encode(state)


class Raced(Exception):
    """Another check wrote the state since this one read it."""


def _save_state(client: Any, bucket: str, state: dict[str, Any], etag: str | None) -> str:
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        response = client.put_object(Bucket=bucket, Key=STATE_KEY, Body=_encode(state),
                                     ContentType="application/json", **condition)
    except ClientError as exc:
        if s3.error_code(exc) in _RACE_CODES:
            raise Raced() from None
        raise
    return str(response["ETag"])


def history_key(device: str, opened_ms: int, kind: str) -> str:
    """Where an incident of ``device`` opened at ``opened_ms`` is filed."""
    return f"{HISTORY_PREFIX}{device}/{rev_from_ms(opened_ms)}_{kind}.json"


def _public(incident: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "kind", "device", "opened_at", "title", "detail", "closed_at", "close_title",
            "close_detail")
    return {name: incident[name] for name in keep if name in incident}


# --- the pass ---------------------------------------------------------------------------------


def _fold_summaries(state: dict[str, Any], summaries: status.Summaries, now_ms: int,
                    rules: AlertRules) -> list[str]:
    """Merge the changed summaries, forget writers gone; the summary keys to delete (stale)."""
    for writer, document in summaries.changed.items():
        _merge_writer(state, writer, document, summaries.modified_ms[writer])
        state["writers"][writer]["etag"] = summaries.etags[writer]
    stale = []
    for writer in list(state["writers"]):
        modified = summaries.modified_ms.get(writer)
        if modified is None:
            del state["writers"][writer]
        elif (now_ms - modified) / 1000 > rules.stale_writer_s:
            stale.append(status.status_key(writer))
            del state["writers"][writer]
    horizon = now_ms - int(rules.writer_horizon_s * 1000)
    for camera in state["cameras"].values():
        _consume_samples(camera, horizon, rules)
    return stale


def _forget_unregistered(state: dict[str, Any], registered: set[str]) -> None:
    """Drop what is known of cameras no longer registered, their incidents too (no message)."""
    for device in [d for d in state["cameras"] if d not in registered]:
        del state["cameras"][device]
    for incident_id in [i for i, v in state["incidents"].items()
                        if v["device"] != SYSTEM and v["device"] not in registered]:
        del state["incidents"][incident_id]


def _file_transitions(client: Any, bucket: str, now_ms: int, changed: list[dict[str, Any]],
                      open_list: list[dict[str, Any]]) -> None:
    """Write each opened or closed incident's history, and the open list if any changed."""
    for incident in changed:
        key = history_key(incident["device"], incident["opened_at"], incident["kind"])
        s3.put_json(client, bucket, key, _public(incident))
    if changed:
        s3.put_json(client, bucket, OPEN_KEY,
                    {"schema": SCHEMA, "written_at": now_ms, "incidents": open_list})


def check(
    client: Any,
    bucket: str,
    *,
    now: float,
    targets: Sequence[TargetRule],
    deliver: Deliver,
    dlq_depth: int | None = None,
    devices: Collection[str] | None = None,
    rules: AlertRules | None = None,
) -> CheckResult:
    """One pass: read the summaries, update incidents, queue and deliver their messages.

    ``now`` is Unix seconds; ``dlq_depth`` the thumbnailer dead-letter queue's message count
    (None: unknown, leave that incident as it is); ``devices``, when given, the registered
    cameras: state about any other camera is forgotten without a message.
    """
    rules = rules or AlertRules()
    now_ms = int(now * 1000)
    result = CheckResult()
    state, etag, original = _load_state(client, bucket)
    known = {writer: info.get("etag", "") for writer, info in state["writers"].items()}
    summaries = status.read_changed(client, bucket, known)
    result.summaries_read = len(summaries.changed)
    stale = _fold_summaries(state, summaries, now_ms, rules)
    if devices is not None:
        _forget_unregistered(state, set(devices))
    opened, closed = detect(state, now_ms, rules, dlq_depth)
    result.opened = [_public(i) for i in opened]
    result.closed = [_public(i) for i in closed]
    result.dropped = _queue(state, targets, now_ms, opened, closed, rules)
    result.open_incidents = [_public(i) for _, i in sorted(state["incidents"].items())]

    if _encode(state) != original:
        try:
            etag = _save_state(client, bucket, state, etag)
        except Raced:
            return CheckResult(raced=True)
    _file_transitions(client, bucket, now_ms, opened + closed, result.open_incidents)
    if stale:
        s3.delete_keys(client, bucket, stale)
    if _deliver(state, targets, now, deliver, rules, result):
        try:
            _save_state(client, bucket, state, etag)
        except Raced:
            # A newer pass owns the state; what it queued it will deliver. Ours were sent.
            result.raced = True
    return result


def open_incidents(client: Any, bucket: str) -> list[dict[str, Any]]:
    """The open incidents, for the cameras page (one GET)."""
    document = s3.get_json(client, bucket, OPEN_KEY)
    return list(document.get("incidents", [])) if isinstance(document, dict) else []


def history(client: Any, bucket: str, device: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """A camera's incidents, newest first (one listing plus one GET per incident shown)."""
    if device != SYSTEM:
        check_device_id(device)
    page = s3.list_page(client, bucket, f"{HISTORY_PREFIX}{device}/", max_keys=limit)
    found = [s3.get_json(client, bucket, key) for key in page.keys]
    return [incident for incident in found if isinstance(incident, dict)]
