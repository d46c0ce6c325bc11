"""What each page of ``kinetic serve`` shows, from the query layer's rows: plain data, no I/O, no clock. Pure.

Days and weeks are the wearer's (their policy's time zone), as in the weekly report and the engine's hourly
summaries (docs/metrics.md). Times travel as Unix ms (UTC) to the browser, which draws them; texts that a page
prints are made here in the wearer's zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from alerts.errors import PolicyError
from alerts.prompts.policy.model import WEEKDAYS, PromptPolicy, merge
from dashboards.report.weekly import BadWeek, parse_week
from ingest.store.queries import DeviceRow, MinuteRow, OutcomeRow, PostureBoutRow, PromptEventRow, PromptRow

__all__ = ["BadWeek", "parse_week"]

POSTURE_LEVELS = {"lying": 0, "sitting": 1, "standing": 2, "moving": 3}  # the timeline's rows, bottom to top
TREND_WEEKS = 8
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadInput(ValueError):
    """A request's value the app cannot use: one line naming the input and what is expected (-> HTTP 400)."""


def day_start_ms(day: date, zone: ZoneInfo) -> int:
    """Local midnight of ``day`` in ``zone``, as Unix ms."""
    return round(datetime.combine(day, time(0), zone).timestamp() * 1000)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[int, int]:
    """``[start, end)`` of a local day in Unix ms: 23 or 25 hours when the clocks change."""
    return day_start_ms(day, zone), day_start_ms(day + timedelta(days=1), zone)


def local_day(t_ms: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(t_ms / 1000, zone).date()


def parse_day(text: str) -> date:
    """'2026-11-23' -> that date; BadInput otherwise."""
    if not _DAY_RE.match(text):
        raise BadInput(f"day {text[:40]!r} must look like 2026-11-23")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(f"day {text!r}: {exc}") from None


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def clock_text(t_ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(t_ms / 1000, zone).strftime("%H:%M")


def local_time(t_ms: int, zone: ZoneInfo) -> str:
    """'2026-11-23 15:30': Unix ms on the wearer's clock."""
    return datetime.fromtimestamp(t_ms / 1000, zone).strftime("%Y-%m-%d %H:%M")


def time_text(t_ms: int | None, timezone: str) -> str:
    """A time for a person: '2026-11-23 15:30 (Europe/Berlin)' in the wearer's zone, never Unix ms; '-' for None."""
    if t_ms is None:
        return "-"
    return f"{local_time(t_ms, ZoneInfo(timezone))} ({timezone})"


def duration_text(seconds: float) -> str:
    """'1 h 05 min', '12 min', '40 s'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def today_data(
    zone: ZoneInfo,
    day: date,
    bouts: list[PostureBoutRow],
    minutes: list[MinuteRow],
    prompts: list[PromptRow],
    outcomes: list[OutcomeRow],
    devices: Sequence[DeviceRow] = (),
) -> dict[str, Any]:
    """The Today page's charts as JSON: the posture timeline (bouts clipped to the day, ``level`` from
    POSTURE_LEVELS), lean over the day (per minute: ``t`` in s, ``lean_deg``; ``lean_empty``: why there is none, or
    None; ``lean_card_note``: the live card's note, from the wearer's ``devices``), prompts as marks with their outcome
    (``state``: a MARK_LABELS key), and the day's sitting minutes (from the bouts that ended in it)."""
    start, end = day_bounds(day, zone)
    segments = [
        {
            "start_ms": max(b.start_ms, start),
            "end_ms": min(b.end_ms, end),
            "posture": b.posture,
            "level": POSTURE_LEVELS.get(b.posture),
        }
        for b in bouts
        if b.end_ms > start and b.start_ms < end
    ]
    by_prompt = {o.prompt_id: o for o in outcomes}
    marks = []
    for p in prompts:
        outcome = by_prompt.get(p.id)
        marks.append(
            {
                "t_ms": p.t_ms,
                "id": p.id,
                "exercise": p.exercise,
                "trigger": p.trigger,
                "outcome": outcome_text(outcome),
                "moved": outcome is not None and outcome.broke_5min,
                "state": mark_state(outcome),
            }
        )
    return {
        "day": day.isoformat(),
        "start_ms": start,
        "end_ms": end,
        "timeline": segments,
        "series": timeline_series(segments, marks, minutes),
        "lean": lean_series(minutes),
        "lean_empty": lean_empty_text(minutes, devices),
        "lean_card_note": lean_card_note(devices),
        "prompts": marks,
        "mark_labels": MARK_LABELS,
        "sitting_min": round(sum(b.duration_s for b in bouts if b.posture == "sitting") / 60, 1),
    }


# The timeline's prompt marks (uPlot series of the same names), by what is known of the prompt's outcome: a break
# within 5 min (the outcome window, docs/metrics.md "Prompt response"), none within 5 min, or not known yet (the
# outcome is written 5 min after the prompt, or when the bout ends).
MARK_LABELS = {
    "moved": "prompt: moved within 5 min",
    "no_break": "prompt: no break within 5 min",
    "waiting": "prompt: outcome not known yet",
}


def mark_state(outcome: OutcomeRow | None) -> str:
    """A prompt mark's kind (a MARK_LABELS key) from its outcome row (None: not known yet)."""
    if outcome is None:
        return "waiting"
    return "moved" if outcome.broke_5min else "no_break"


LEAN_PLACEMENT = "trunk"  # lean_deg comes from a trunk sensor only (ingest.wire.FeatureFrameV1, docs/metrics.md)


def lean_empty_text(minutes: Sequence[MinuteRow], devices: Sequence[DeviceRow]) -> str | None:
    """Why the day's lean chart has nothing to draw (None when it has): no trunk sensor among the wearer's
    ``devices`` (their placements all known), or a trunk sensor that sent no lean that day."""
    if any(m.lean_deg is not None for m in minutes):
        return None
    if any(d.placement == LEAN_PLACEMENT for d in devices):
        return "No lean data this day: the trunk sensor sent no frames with a lean."
    if devices and all(d.placement for d in devices):
        named = ", ".join(f"{d.device} ({d.placement})" for d in devices)
        return f"No lean: lean is measured by a trunk sensor, and this wearer's sensors are {named}."
    return "No lean data this day."


def lean_card_note(devices: Sequence[DeviceRow]) -> str:
    """The live lean card's note: the sign convention, or that nothing measures lean (placements all known, none
    a trunk)."""
    if devices and all(d.placement for d in devices) and not any(d.placement == LEAN_PLACEMENT for d in devices):
        return "not measured: no trunk sensor"
    return "+ right, - left (trunk sensor)"


MINUTE_MS = 60_000
GAP_S = 0.001  # a null point this long after a drawn point: uPlot (spanGaps: false) stops the line there


def covered_spans(minutes: Sequence[MinuteRow]) -> list[tuple[int, int]]:
    """``[start, end)`` spans in Unix ms of consecutive minutes that have feature frames (the query layer's
    per-minute rows: a minute without a row had no frame: the sensor was off, out of range or not sending)."""
    spans: list[tuple[int, int]] = []
    for m in sorted(minutes, key=lambda m: m.t_ms):
        if m.frames <= 0:
            continue
        if spans and spans[-1][1] >= m.t_ms:
            spans[-1] = (spans[-1][0], max(spans[-1][1], m.t_ms + MINUTE_MS))
        else:
            spans.append((m.t_ms, m.t_ms + MINUTE_MS))
    return spans


def timeline_series(
    segments: Sequence[Mapping[str, Any]], marks: Sequence[Mapping[str, Any]], minutes: Sequence[MinuteRow]
) -> dict[str, list[float | None]]:
    """The Today page's posture timeline as uPlot's columns (``t`` in Unix s, ``level`` from POSTURE_LEVELS or
    None, ``moved`` / ``no_break`` / ``waiting``: 4 at a prompt of that MARK_LABELS kind, else None).

    Gaps are gaps: a posture is drawn only where the wearer had one (a bout of a posture POSTURE_LEVELS knows, not
    ``not_worn`` or ``unknown``) and, when the day has any frames stored, only over minutes with frames; a None
    point ends the line at each hole. A prompt's x takes the level of the bout around it, so a mark does not cut
    the line."""
    spans = covered_spans(minutes)
    pieces: list[tuple[int, int, int]] = []
    for seg in segments:
        level = seg["level"]
        if level is None:
            continue
        start, end = int(seg["start_ms"]), int(seg["end_ms"])
        cuts = [(max(a, start), min(b, end)) for a, b in spans if b > start and a < end] if spans else [(start, end)]
        pieces.extend((a, b, level) for a, b in cuts if b > a)
    pieces.sort()
    kinds = list(MARK_LABELS)
    none: tuple[float | None, ...] = (None,) * len(kinds)
    rows: list[tuple[float, int, float | None, tuple[float | None, ...]]] = []
    last_end: int | None = None
    for a, b, level in pieces:
        if last_end is not None and a > last_end:
            rows.append((last_end / 1000 + GAP_S, 0, None, none))
        rows += [(a / 1000, 0, level, none), (b / 1000, 0, level, none)]
        last_end = b if last_end is None else max(last_end, b)
    for mark in marks:
        t = int(mark["t_ms"])
        level = next((lv for a, b, lv in pieces if a <= t <= b), None)
        rows.append((t / 1000, 1, level, tuple(4.0 if kind == mark["state"] else None for kind in kinds)))
    rows.sort(key=lambda r: (r[0], r[1]))  # stable: a bout's end and the next one's start keep their order
    return {
        "t": [r[0] for r in rows],
        "level": [r[2] for r in rows],
        **{kind: [r[3][i] for r in rows] for i, kind in enumerate(kinds)},
    }


def lean_series(minutes: Sequence[MinuteRow]) -> dict[str, list[float | None]]:
    """Lean per minute (``t`` in Unix s, ``lean_deg``); after a minute whose next one has no frames, a None point
    one minute on, so the line stops over the hole instead of joining its two sides."""
    t: list[float | None] = []
    lean: list[float | None] = []
    ordered = sorted(minutes, key=lambda m: m.t_ms)
    for i, m in enumerate(ordered):
        t.append(m.t_ms / 1000)
        lean.append(m.lean_deg)
        if i + 1 < len(ordered) and ordered[i + 1].t_ms > m.t_ms + MINUTE_MS:
            t.append((m.t_ms + MINUTE_MS) / 1000)
            lean.append(None)
    return {"t": t, "lean_deg": lean}


def outcome_text(outcome: OutcomeRow | None) -> str:
    """A prompt's outcome in words: 'moved within 1 min' ... 'no break within 5 min'; 'waiting' before it is known."""
    if outcome is None:
        return "waiting (5 min after the prompt, or when the bout ends)"
    text = outcome.outcome or next(
        (f"moved within {k} min" for k in (1, 3, 5) if getattr(outcome, f"broke_{k}min")), "no break within 5 min"
    )
    extras = [word for word, flag in (("done pressed", outcome.acked), ("snoozed", outcome.snoozed)) if flag]
    return f"{text} ({', '.join(extras)})" if extras else text


@dataclass(frozen=True, slots=True)
class PromptItem:
    """One row of the Prompts page; ``open``: no outcome yet, so Done and Snooze still mean something;
    ``reprompt``: the second prompt of the same bout; ``waited``: why it was held before it went out (or "")."""

    id: str
    t_ms: int
    day: str
    clock: str
    trigger: str
    exercise: str
    outcome: str
    moved_within_min: int | None
    open: bool
    reprompt: bool = False
    waited: str = ""


def prompt_items(
    prompts: list[PromptRow], outcomes: list[OutcomeRow], zone: ZoneInfo, events: list[PromptEventRow] | None = None
) -> list[PromptItem]:
    """The prompts newest first, each with its outcome (moved within 1 / 3 / 5 min), marked as a re-prompt when an
    earlier prompt of the same trigger had the same bout, and with why it waited (``prompt_sent``'s 'held: why')."""
    by_prompt = {o.prompt_id: o for o in outcomes}
    sent = {e.prompt_id: e for e in events or [] if e.kind == "prompt_sent" and e.prompt_id}
    bouts_seen: set[tuple[str | None, int]] = set()
    reprompts: set[str] = set()
    for e in sorted(sent.values(), key=lambda e: e.t_ms):
        if e.bout_start_ms is not None and e.prompt_id is not None:
            if (e.trigger, e.bout_start_ms) in bouts_seen:
                reprompts.add(e.prompt_id)
            bouts_seen.add((e.trigger, e.bout_start_ms))
    items = []
    for p in sorted(prompts, key=lambda r: r.t_ms, reverse=True):
        o = by_prompt.get(p.id)
        moved = None if o is None else next((k for k in (1, 3, 5) if getattr(o, f"broke_{k}min")), None)
        reason = sent[p.id].reason if p.id in sent else None
        items.append(
            PromptItem(
                p.id,
                p.t_ms,
                local_day(p.t_ms, zone).isoformat(),
                clock_text(p.t_ms, zone),
                p.trigger,
                p.exercise,
                outcome_text(o),
                moved,
                o is None,
                p.id in reprompts,
                waited_text(reason.removeprefix("held: ")) if reason else "",
            )
        )
    return items


# the planner's reasons (alerts/prompts/policy/planner.py) in words
WAIT_REASONS = {
    "paused": "paused (do not disturb)",
    "outside_active_hours": "outside active hours",
    "quiet_hours": "quiet hours",
    "spacing": "too soon after the last prompt (min_spacing_min)",
    "hour_cap": "the hour's cap was reached (max_per_hour)",
    "day_cap": "the day's cap was reached (max_per_day)",
    "sensor_still": "the sensor lay perfectly still (on a desk?)",
    "moved": "the wearer moved before it could go out",
}


def waited_text(reason: str) -> str:
    """A planner's reason in words ('max_per_hour' -> 'max per hour'), known ones as WAIT_REASONS says."""
    return WAIT_REASONS.get(reason, reason.replace("_", " "))


@dataclass(frozen=True, slots=True)
class WaitItem:
    """A prompt that was due but held (it may go out later) or cancelled (it will not), and why."""

    day: str
    clock: str
    trigger: str
    what: str
    why: str


def wait_items(events: list[PromptEventRow], zone: ZoneInfo) -> list[WaitItem]:
    """Held and cancelled prompts, newest first."""
    return [
        WaitItem(
            local_day(e.t_ms, zone).isoformat(),
            clock_text(e.t_ms, zone),
            e.trigger or "-",
            "held" if e.kind == "prompt_held" else "cancelled",
            waited_text(e.reason or ""),
        )
        for e in sorted(events, key=lambda e: e.t_ms, reverse=True)
        if e.kind in ("prompt_held", "prompt_cancelled")
    ]


@dataclass(frozen=True, slots=True)
class WeekTrend:
    """One ISO week's totals from the hourly summaries (the weekly report's definitions, docs/metrics.md)."""

    week: str
    worn_h: float
    sitting_h: float
    bouts_60_plus: int
    breaks: int
    lean_10deg_min: float
    hours: int = 0  # hourly summaries in the week: none is "no data", never "did not sit"

    @property
    def has_data(self) -> bool:
        return self.hours > 0


def week_trend(
    monday: date, zone: ZoneInfo, hours: list[dict[str, float]], weeks: int = TREND_WEEKS
) -> list[WeekTrend]:
    """The ``weeks`` ISO weeks ending with the one starting on ``monday``, oldest first, from the hourly summaries
    (``t_ms`` = the hour's start; an hour belongs to the local week its start lies in)."""
    first = monday - timedelta(weeks=weeks - 1)
    sums: dict[date, dict[str, float]] = {first + timedelta(weeks=i): {} for i in range(weeks)}
    counts: dict[date, int] = dict.fromkeys(sums, 0)
    for hour in hours:
        day = local_day(int(hour["t_ms"]), zone)
        key = day - timedelta(days=day.weekday())
        if key in sums:
            counts[key] += 1
            bucket = sums[key]
            for metric, value in hour.items():
                bucket[metric] = bucket.get(metric, 0.0) + value
    out = []
    for key, s in sums.items():
        worn = sum(s.get(k, 0.0) for k in ("sitting_s", "standing_s", "moving_s", "lying_s"))
        out.append(
            WeekTrend(
                iso_week(key),
                round(worn / 3600, 2),
                round(s.get("sitting_s", 0.0) / 3600, 2),
                int(s.get("sitting_bouts_60min_plus", 0)),
                int(s.get("breaks", 0)),
                round(s.get("lean_above_10deg_s", 0.0) / 60, 1),
                counts[key],
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class DeviceItem:
    device: str
    placement: str
    state: str
    battery: str
    last_seen: str


def device_items(devices: list[DeviceRow], zone: ZoneInfo) -> list[DeviceItem]:
    """The Settings page's devices: battery in percent ('unknown' without a reading), last seen in the wearer's
    zone."""
    return [
        DeviceItem(
            d.device,
            d.placement or "-",
            d.state or "no status",
            "unknown" if d.battery_pct is None else f"{d.battery_pct} %",
            local_time(d.last_seen_ms, zone),
        )
        for d in devices
    ]


# The policy form: field name -> (label, kind). Kinds: number, number-or-never, windows (comma-separated
# 'HH:MM-HH:MM'), weekday windows (active hours, the same windows on the listed days), zone.
POLICY_FORM: dict[str, tuple[str, str]] = {
    "sitting_threshold_min": ("Prompt after sitting for (min)", "number"),
    "standing_threshold_min": ("Prompt after standing for (min, empty: never)", "number-or-never"),
    "lean_threshold_deg": ("Lean counted from (degrees)", "number"),
    "lean_duration_min": ("Prompt after leaning for (min, empty: never)", "number-or-never"),
    "snooze_min": ("Snooze for (min)", "number"),
    "max_per_hour": ("At most prompts per hour", "integer"),
    "max_per_day": ("At most prompts per day", "integer"),
    "quiet_hours": ("Quiet hours (e.g. 12:00-13:00, comma-separated)", "windows"),
    "active_hours": ("Active hours (e.g. 09:00-17:00 on mon,tue,wed,thu,fri; empty: always)", "active"),
    "week_plan": ("Day plan (capacity or relief per weekday, e.g. mon=capacity, tue=relief)", "week_plan"),
    "timezone": ("Time zone (IANA, e.g. Europe/Berlin)", "text"),
}
# where a value of the policy in force comes from (PolicyV1.sources), as the Settings page says it beside the field
POLICY_SOURCES = {"default": "default", "file": "policy file", "command": "changed by a command"}
_ACTIVE_RE = re.compile(r"^(?P<windows>[^;]*?)\s*(?:\bon\s+(?P<days>[a-z, ]+))?$")


def policy_form_values(policy: PromptPolicy) -> dict[str, str]:
    """The form's text for each field from the effective policy."""
    values: dict[str, str] = {}
    for name in POLICY_FORM:
        value = getattr(policy, name)
        if name == "quiet_hours":
            values[name] = ", ".join(value)
        elif name == "active_hours":
            values[name] = _active_text(value)
        elif name == "week_plan":
            values[name] = ", ".join(f"{day}={value[day]}" for day in WEEKDAYS if day in value)
        elif value is None:
            values[name] = ""
        elif isinstance(value, float) and value.is_integer():
            values[name] = str(int(value))
        else:
            values[name] = str(value)
    return values


def _active_text(active: dict[str, list[str]] | None) -> str:
    if not active:
        return ""
    by_windows: dict[tuple[str, ...], list[str]] = {}
    for day in WEEKDAYS:
        if day in active:
            by_windows.setdefault(tuple(active[day]), []).append(day)
    if len(by_windows) != 1:  # different windows on different days: shown as the file says, edited in the file
        return "; ".join(f"{', '.join(w)} on {','.join(d)}" for w, d in by_windows.items())
    ((windows, days),) = by_windows.items()
    return f"{', '.join(windows)} on {','.join(days)}"


def _parse_field(name: str, kind: str, text: str) -> object:
    text = text.strip()
    if kind in ("number", "number-or-never", "integer"):
        if not text:
            if kind == "number-or-never":
                return None
            raise BadInput("a number is needed")
        try:
            value = float(text)
        except ValueError:
            raise BadInput(f"{text[:40]!r} is not a number") from None
        if not math.isfinite(value):
            raise BadInput(f"{text[:40]!r} is not a finite number")
        if kind == "integer":
            if not value.is_integer():
                raise BadInput(f"{text[:40]!r} is not a whole number")
            return int(value)
        return int(value) if value.is_integer() else value
    if kind == "windows":
        return [w.strip() for w in text.split(",") if w.strip()]
    if kind == "active":
        if not text:
            return None
        match = _ACTIVE_RE.match(text)
        if not match or ";" in text:
            raise BadInput("expected windows and days, e.g. '09:00-17:00 on mon,tue,wed,thu,fri'")
        windows = [w.strip() for w in match.group("windows").split(",") if w.strip()]
        days = [d.strip() for d in (match.group("days") or ",".join(WEEKDAYS)).split(",") if d.strip()]
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown:
            raise BadInput(f"unknown weekday {unknown[0]!r} (mon, tue, wed, thu, fri, sat, sun)")
        return dict.fromkeys(days, windows)
    if kind == "week_plan":
        plan: dict[str, str] = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            day, sep, day_type = (x.strip() for x in part.partition("="))
            if not sep or day not in WEEKDAYS:
                raise BadInput(f"{part[:40]!r}: expected weekday=capacity or weekday=relief (mon ... sun)")
            plan[day] = day_type
        return plan
    return text


def policy_overrides(base: PromptPolicy, form: Mapping[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    """The policy form -> (the overrides that differ from ``base``, errors per field). Each field is checked alone
    against ``base`` (policy.merge: the alert service's own check), so every bad field gets its own line."""
    overrides: dict[str, object] = {}
    errors: dict[str, str] = {}
    current = policy_form_values(base)
    for name, (_, kind) in POLICY_FORM.items():
        if name not in form or form[name].strip() == current[name]:
            continue
        try:
            value = _parse_field(name, kind, form[name])
            merge(base, {name: value}, "policy")
        except BadInput as exc:
            errors[name] = str(exc)
            continue
        except PolicyError as exc:
            # 'policy: week_plan.mon: Input should be ...' -> 'mon: Input should be ...' beside the week_plan field
            errors[name] = str(exc).removeprefix("policy: ").removeprefix(f"{name}: ").removeprefix(f"{name}.")
            continue
        if value != getattr(base, name):
            overrides[name] = value
    if overrides and not errors:
        try:  # fields that pass alone may still clash together
            merge(base, overrides, "policy")
        except PolicyError as exc:
            errors["_form"] = str(exc)
    return overrides, errors


@dataclass(frozen=True, slots=True)
class PhoneItem:
    """A phone with a push token on the Settings page: times in the wearer's zone ('never' before its first push)."""

    device: str
    platform: str
    placement: str
    created: str
    last_used: str


class PhoneRecord(Protocol):
    """What the Settings page shows of a token store device (``ingest.phone.tokens.PhoneDevice``; that module does
    file I/O, this one does none)."""

    @property
    def device(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def placement(self) -> str: ...
    @property
    def created_ms(self) -> int: ...
    @property
    def last_used_ms(self) -> int | None: ...


def phone_items(devices: Sequence[PhoneRecord], zone: ZoneInfo) -> list[PhoneItem]:
    """The wearer's phones of the token store, oldest first."""

    def when(ms: int | None) -> str:
        return "never" if ms is None else local_time(ms, zone)

    return [PhoneItem(d.device, d.platform, d.placement, when(d.created_ms), when(d.last_used_ms)) for d in devices]
