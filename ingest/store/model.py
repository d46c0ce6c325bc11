"""Kinetic's data model: how each wire message becomes points. One model for every writer.

Measurements (tags in brackets), all timestamps in event time, milliseconds:

- ``features`` [wearer, device, placement]: incl_deg, lean_deg, enmo_mg, steps, n - one point per second
- ``events`` [wearer, kind]: posture, bout_start_ms, duration_s, prompt_id, trigger, exercise, reason
- ``prompt_outcomes`` [wearer, trigger, exercise, context]: prompt_id, broke_1min, broke_3min, broke_5min (1/0),
  break_after_s, acked, snoozed, ended_without_break, reason and held_s (what held it, how long) - one point per
  prompt, at the prompt's time; context: why it was sent (threshold, after_meeting, reprompt; none before issue 17)
- ``summary_1h`` [wearer]: an hour's posture seconds, bouts by band and trunk exposure (docs/metrics.md)
- ``prompts`` [wearer, trigger]: id, exercise, title, text, expires_ms, bout_start_ms
- ``device_status`` [wearer, device]: state, placement, battery_pct, rssi_dbm, firmware
- ``checkins`` [wearer]: pain (0-10), stress_level (0 low, 1 medium, 2 high) - one point per check-in, at its time
- ``readiness`` [wearer, day_type]: relief (1/0), rmssd_ms, ln_rmssd, baseline_ln_rmssd, normal_low, normal_high,
  rr_artefacts, lying_h, pain, stress_level, reason - one point per wearer and local day, at the decision's time
  (the night's HRV reading is stored here, not the raw RR intervals: docs/data-model.md)
- ``session_outcomes`` [wearer, exercise, outcome]: an exercise session's dose, quality figures, effort, pain
- ``prescriptions`` [wearer, exercise, kind]: a prescription change or a progression proposal (kinds
  ``prescription_changed``, ``progression_proposed``): the dose (sets, reps or hold_s, per_day or per_week, ...),
  step, automatic, reason; or a week's adherence (kind ``session_adherence``: sessions_done, sessions_prescribed,
  adherence_pct, at the middle of the week judged) - also stored as ``events`` points

Tags hold only bounded values (ids, enumerations): series cardinality grows with wearers x devices, never
with time. Prompt ids and texts are fields. See docs/data-model.md.
"""

from __future__ import annotations

from datetime import datetime

from ingest.store.fast_features import BatchLike, fast_feature_lines, is_fast_batch
from ingest.store.points import Point, series_key, to_line_protocol
from ingest.wire import DeviceStatusV1, EventV1, FeatureBatchV1, Payload, PromptV1


def _ms(dt: datetime | None) -> int | None:
    return None if dt is None else round(dt.timestamp() * 1000)


_OPTIONAL_FEATURE_FIELDS = ("gx", "gy", "gz", "incl_deg", "lean_deg", "sd_mg", "hr_bpm")


def feature_points(batch: FeatureBatchV1) -> list[Point]:
    tags = (("device", batch.device), ("placement", batch.placement), ("wearer", batch.wearer))
    out = []
    for f in batch.frames:
        fields: dict[str, float | int] = {"enmo_mg": f.enmo_mg, "steps": f.steps, "n": f.n}
        for name in _OPTIONAL_FEATURE_FIELDS:
            value = getattr(f, name)
            if value is not None:
                fields[name] = value
        out.append(Point("features", tags, fields, f.t_ms))
    return out


def feature_lines(batch: FeatureBatchV1) -> bytes:
    """Line protocol of ``feature_points(batch)``, built straight from the frames: the bridge's hot path, about
    3x faster than going through Point objects. Byte-identical to ``to_line_protocol`` (property-tested)."""
    tags = (("device", batch.device), ("placement", batch.placement), ("wearer", batch.wearer))
    prefix = f"{series_key('features', tags)} enmo_mg="
    lines: list[str] = []
    append = lines.append
    for f in batch.frames:
        # the optional fields in _OPTIONAL_FEATURE_FIELDS order (gx, gy, gz go together: the wire checks it)
        line = f"{prefix}{f.enmo_mg!r},steps={f.steps}i,n={f.n}i"
        if f.gx is not None:
            line += f",gx={f.gx!r},gy={f.gy!r},gz={f.gz!r}"
        if f.incl_deg is not None:
            line += f",incl_deg={f.incl_deg!r}"
        if f.lean_deg is not None:
            line += f",lean_deg={f.lean_deg!r}"
        if f.sd_mg is not None:
            line += f",sd_mg={f.sd_mg!r}"
        if f.hr_bpm is not None:
            line += f",hr_bpm={f.hr_bpm!r}"
        append(f"{line} {f.t_ms}\n")
    return "".join(lines).encode()


def event_points(event: EventV1) -> list[Point]:
    if event.kind == "summary":
        if not event.metrics:
            return []
        metrics = dict(event.metrics)
        local_hour = metrics.pop("local_hour", None)
        tags = {"wearer": event.wearer, "hour": None if local_hour is None else f"{int(local_hour):02d}"}
        return [Point.make("summary_1h", tags, metrics, round(event.t.timestamp() * 1000))]
    if event.kind == "prompt_outcome":
        tags = {
            "wearer": event.wearer,
            "trigger": event.trigger or "",
            "exercise": event.exercise or "",
            "context": event.context or "",  # why it was sent (issue 17), bounded: a tag a panel can GROUP BY
        }
        metrics = event.metrics or {}
        fields: dict[str, float | str | None] = {
            "prompt_id": event.prompt_id,
            "outcome": outcome_text(metrics),
            "reason": event.reason,  # what held it ("held: meeting"), with metrics' held_s
            **metrics,
        }
        return [Point.make("prompt_outcomes", tags, fields, round(event.t.timestamp() * 1000))]
    if event.kind == "session_outcome":  # issue 19: one point per session, at its end, with its dose and figures
        tags = {"wearer": event.wearer, "exercise": event.exercise or "", "outcome": event.outcome or ""}
        session_fields: dict[str, float | str | None] = {
            "session": event.session,
            "duration_s": event.duration_s,
            "reason": event.reason,
            **(event.metrics or {}),
        }
        return [Point.make("session_outcomes", tags, session_fields, round(event.t.timestamp() * 1000))]
    points = []
    # issue 19: the dose over weeks; session_adherence: a week's sessions done / prescribed (prescription propose)
    if event.kind in ("prescription_changed", "progression_proposed", "session_adherence"):
        tags = {"wearer": event.wearer, "exercise": event.exercise or "", "kind": event.kind}
        dose: dict[str, float | str | None] = {**(event.metrics or {}), "reason": event.reason}
        points.append(Point.make("prescriptions", tags, dose, round(event.t.timestamp() * 1000)))
    if event.kind == "checkin" and event.metrics:
        points.append(Point.make("checkins", {"wearer": event.wearer}, dict(event.metrics), _ms(event.t) or 0))
    if event.kind == "readiness" and event.metrics:
        relief = event.metrics.get("relief") == 1
        tags = {"wearer": event.wearer, "day_type": "relief" if relief else "capacity"}
        figures: dict[str, float | str | None] = {**event.metrics, "reason": event.reason}
        points.append(Point.make("readiness", tags, figures, _ms(event.t) or 0))
    return [
        *points,
        Point.make(
            "events",
            {"wearer": event.wearer, "kind": event.kind},
            {
                "posture": event.posture,
                "bout_start_ms": _ms(event.bout_start),
                "duration_s": event.duration_s,
                "prompt_id": event.prompt_id,
                "trigger": event.trigger,
                "exercise": event.exercise,
                "reason": event.reason,
                **(
                    {
                        "clinic": event.consent.clinic,
                        "data": ",".join(event.consent.data),
                        "until_ms": _ms(event.consent.until),
                    }
                    if event.consent is not None
                    else {}
                ),
            },
            round(event.t.timestamp() * 1000),
        ),
    ]


def outcome_text(metrics: dict[str, float]) -> str:
    """A prompt's outcome in words, for annotations and tables (docs/metrics.md, prompt response)."""
    for k in (1, 3, 5):
        if metrics.get(f"broke_{k}min"):
            return f"moved within {k} min"
    if metrics.get("ended_without_break"):
        return "bout ended without a break (data gap or not worn)"
    return "no break within 5 min"


def prompt_points(prompt: PromptV1) -> list[Point]:
    return [
        Point.make(
            "prompts",
            {"wearer": prompt.wearer, "trigger": prompt.trigger},
            {
                "id": prompt.id,
                "exercise": prompt.exercise,
                "title": prompt.title,
                "text": prompt.text,
                "expires_ms": _ms(prompt.expires),
                "bout_start_ms": _ms(prompt.bout_start),
            },
            round(prompt.created.timestamp() * 1000),
        )
    ]


def status_points(status: DeviceStatusV1, received_ms: int) -> list[Point]:
    return [
        Point.make(
            "device_status",
            {"wearer": status.wearer, "device": status.device},
            {
                "state": status.state,
                "placement": status.placement,
                "battery_pct": status.battery_pct,
                "rssi_dbm": status.rssi_dbm,
                "firmware": status.firmware,
            },
            status.t_ms if status.t_ms is not None else received_ms,
        )
    ]


def points_for(message: Payload | BatchLike, received_ms: int) -> list[Point]:
    """The points a decoded wire message stores as. Dead letters are not stored as points."""
    if is_fast_batch(message):  # only line-protocol sinks get these; never drop one silently
        raise TypeError("a fast-path feature batch goes to line_protocol_for, not points_for")
    if isinstance(message, FeatureBatchV1):
        return feature_points(message)
    if isinstance(message, EventV1):
        return event_points(message)
    if isinstance(message, PromptV1):
        return prompt_points(message)
    if isinstance(message, DeviceStatusV1):
        return status_points(message, received_ms)
    return []


def line_protocol_for(message: Payload | BatchLike, received_ms: int) -> tuple[bytes, int]:
    """A wire message as line protocol, and its number of points: feature batches straight from their frames, those
    the bridge decoded on its fast path through msgspec's encoder (ingest/store/fast_features.py)."""
    if is_fast_batch(message):
        return fast_feature_lines(message), len(message.frames)
    if isinstance(message, FeatureBatchV1):
        return feature_lines(message), len(message.frames)
    points = points_for(message, received_ms)
    return (to_line_protocol(points) if points else b""), len(points)
