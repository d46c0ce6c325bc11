"""Exercise sessions (issue 19, item 2): a prescribed exercise started and ended by commands, its session stream
gathered, verified by the exercise detectors (alerts/detect/exercise) and concluded in a ``session_outcome`` event.
Pure: commands and stream chunks in, events out; time comes from the commands and the samples.

- ``session_start`` (the "Start" action, ``kinetic session start``) opens a session for the wearer; a start while
  another runs ends that one first (``partial``, saying why). With prescriptions loaded, an exercise not prescribed
  to the wearer is refused (``SessionRefused``, dead-lettered by the service).
- Stream chunks (``SessionSamplesV1``) for the running session are gathered from one device (the first that sends;
  chunks from another, or for no running session, are refused and counted); chunks lost on the way show as gaps in
  ``seq``; samples past the session's bound are refused and counted (a flooding sender costs nothing but its own
  surplus).
- ``session_end`` ends the session; once its stream is in (the sender's final chunk, or ``END_WAIT_S`` later) the
  exercise's detector runs and the outcome is published: **done** when the dose achieved reaches
  the prescribed one; **partial** when part of it was achieved, or when the sensor could not verify it (no stream,
  a gap of more than ``LOST_S`` in the stream up to its close, a stream not closed: the session is marked incomplete
  and the reason says which);
  **skipped** when the stream was good and nothing of the exercise was seen. An exercise the sensor cannot verify
  (no ``verify`` in its catalog entry and no hold prescribed) is **done** on the wearer's word (``verified`` 0).
- An alert service restarted mid-session takes it up again (``records`` stored by the service, ``restore``): its
  stream is gathered from the next chunk and its outcome is **partial**, saying the samples before the restart were
  lost; a start redelivered after the restart is the same session, not a new one.
  The wearer's effort and pain (0-10) go into the event's metrics, beside the dose and the quality figures
  (docs/wire.md lists them).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import ValidationError

from alerts.detect.exercise.breathing_reset import breathing_reset
from alerts.detect.exercise.hold import holds
from alerts.detect.exercise.mobility import mobility
from alerts.detect.exercise.signal import MAX_SESSION_SAMPLES, SessionSamples
from alerts.detect.exercise.sit_to_stand import sit_to_stand_set
from alerts.errors import AlertsError
from alerts.prompts.catalog import Exercise, Verification
from alerts.prompts.prescription import Prescribed
from ingest.wire import CommandV1, EventV1, SessionOutcome, SessionSamplesV1, describe_validation_error

LOST_S = 5.0  # no sample for this long while a session runs: the sensor was lost
END_WAIT_S = 15.0  # after session_end, how long the stream's final chunk is waited for (a chunk spans 5 s)
HOLD_SHARE = 0.9  # a hold counts when it lasts this share of the prescribed time
BREATHING_TARGET_PER_MIN = 7.0  # without a prescribed target: slow breathing's usual aim, 6 per minute and a margin
MAX_SESSIONS = 1_000  # sessions running at once (one per wearer): more is a flood of starts
# samples held across all running sessions (32 bytes each: about 64 MB); past it, chunks are refused and counted
MAX_HELD_SAMPLES = 2_000_000


class SessionRefused(AlertsError):
    """A session command or stream chunk Kinetic cannot use: one line naming the input and what is expected."""


def startable_exercises(
    catalog: Mapping[str, Exercise], prescriptions: Mapping[str, Sequence[Prescribed]] | None, wearer: str
) -> list[str]:
    """The one rule for which exercises ``wearer`` may start a session of (ids, in the order they are offered):
    with prescriptions (``prescriptions`` not None: wearer -> their entries), the wearer's prescribed exercises that
    are in the catalog, in the file's order (a wearer the file does not list may start none); without a
    prescriptions file, every catalog exercise, by id. The alert service's refusals (``SessionVerifier``), the ntfy
    "Start" button, the web app's Start links and its guided session page's choices all ask this rule."""
    if prescriptions is None:
        return sorted(catalog)
    return list(dict.fromkeys(p.exercise for p in prescriptions.get(wearer, []) if p.exercise in catalog))


def may_start(
    catalog: Mapping[str, Exercise],
    prescriptions: Mapping[str, Sequence[Prescribed]] | None,
    wearer: str,
    exercise: str,
) -> bool:
    """Whether ``wearer`` may start a session of ``exercise``: it is one of ``startable_exercises``."""
    return exercise in startable_exercises(catalog, prescriptions, wearer)


def session_id(exercise: str, at: datetime) -> str:
    """A session's id from its exercise and start time (UTC, to the second): ``20261206t054500-controlled-sit...``."""
    return f"{at.astimezone(UTC):%Y%m%dt%H%M%S}-{exercise}"[:64]


def session_command(
    action: str,
    wearer: str,
    at: datetime,
    *,
    source: str,
    session: str | None = None,
    exercise: str | None = None,
    effort: int | None = None,
    pain: int | None = None,
) -> CommandV1:
    """The command for ``start`` (``exercise``; the session id made from it and ``at`` unless given) or ``end``
    (``session``: none ends the wearer's running one; the wearer's ``effort`` and ``pain`` 0-10) at ``at``
    (timezone-aware). Raises SessionRefused naming what is wrong."""
    if action not in ("start", "end"):
        raise SessionRefused(f"session action {action!r}: expected start or end")
    if action == "start" and exercise is not None and session is None:
        session = session_id(exercise, at)
    try:
        return CommandV1(
            kind="session_start" if action == "start" else "session_end",
            wearer=wearer,
            at=at,
            source=source,
            session=session,
            exercise=exercise if action == "start" else None,
            effort=effort if action == "end" else None,
            pain=pain if action == "end" else None,
        )
    except ValidationError as exc:
        raise SessionRefused(f"session {action}: {describe_validation_error(exc)}") from None


@dataclass
class RunningSession:
    wearer: str
    session: str
    exercise: str
    started_ms: int
    verify: Verification | None
    prescribed: Prescribed | None
    samples: SessionSamples = field(default_factory=SessionSamples)
    device: str | None = None
    next_seq: int = 0
    chunks_lost: int = 0
    closed_at_ms: int | None = None  # the sender's final chunk's time: the whole stream is in
    ending: CommandV1 | None = None  # the session_end, waiting for the stream to close
    end_seen_ms: int = 0  # when the session_end was handled (the service's clock), for END_WAIT_S
    restarted: bool = False  # taken up again after an alert service restart: the samples before it are lost

    def header(self) -> str:
        """What survives a restart (JSON): the session, its exercise, its start, and its end when it was ending."""
        out: dict[str, object] = {"session": self.session, "exercise": self.exercise, "started_ms": self.started_ms}
        if self.ending is not None:
            out["ending"] = self.ending.model_dump(mode="json", exclude_none=True)
        return json.dumps(out, sort_keys=True)


@dataclass
class SessionVerifier:
    """Every wearer's running session. ``catalog``: exercise id -> entry (for how it is verified);
    ``prescriptions``: wearer -> prescribed exercises (None: no prescriptions file, any catalog exercise may be
    started and its dose is not judged against one). ``refused`` counts refusals by reason."""

    catalog: Mapping[str, Exercise]
    prescriptions: Mapping[str, list[Prescribed]] | None = None
    running: dict[str, RunningSession] = field(default_factory=dict)
    # ended, waiting for their stream's final chunk (a new session of the wearer may run meanwhile)
    closing: dict[tuple[str, str], RunningSession] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    # where ``prescriptions`` come from when they may change while running (a PrescriptionsFile's ``current``):
    # asked at each session start
    reload: Callable[[], Mapping[str, list[Prescribed]]] | None = None

    def records(self) -> dict[tuple[str, str], str]:
        """The running and ending sessions' headers, (wearer, session) -> JSON: what the alert service stores so
        that a restart does not lose them (``restore``). Their samples are not stored."""
        out = {(r.wearer, r.session): r.header() for r in self.running.values()}
        out.update({key: r.header() for key, r in self.closing.items()})
        return out

    def restore(self, records: Mapping[tuple[str, str], str]) -> list[str]:
        """Take up the sessions of ``records`` after a restart: a running one goes on gathering its stream from the
        next chunk, an ending one is concluded at the next ``due``; both are **partial** when the sensor verifies
        them (the samples before the restart are lost), with that reason. Returns one line per record that cannot
        be taken up (unreadable, its exercise gone from the catalog), which is dropped."""
        problems = []
        for (wearer, session), header in records.items():
            try:
                data = json.loads(header)
                exercise, started_ms = str(data["exercise"]), int(data["started_ms"])
                ending = CommandV1.model_validate(data["ending"]) if "ending" in data else None
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                problems.append(f"session {session!r} of {wearer!r}: its stored header cannot be read ({exc})"[:300])
                continue
            entry = self.catalog.get(exercise)
            if entry is None:
                problems.append(f"session {session!r} of {wearer!r}: exercise {exercise!r} is no longer in the catalog")
                continue
            if self.reload is not None:
                self.prescriptions = self.reload()
            prescribed = None
            if self.prescriptions is not None:
                prescribed = next((p for p in self.prescriptions.get(wearer, []) if p.exercise == exercise), None)
            verify = entry.verify or ("hold" if prescribed is not None and prescribed.kind == "hold" else None)
            taken = RunningSession(wearer, session, exercise, started_ms, verify, prescribed, restarted=True)
            if ending is None:
                self.running[wearer] = taken
            else:
                taken.ending = ending  # restarted: concluded at the next ``due``
                self.closing[(wearer, session)] = taken
        return problems

    def forget(self, wearer: str) -> None:
        """Drop the wearer's running and ending sessions, samples and all (``forget``: kinetic data delete)."""
        self.running.pop(wearer, None)
        for key in [k for k in self.closing if k[0] == wearer]:
            del self.closing[key]

    def startable(self, wearer: str, exercise: str) -> bool:
        """Whether a ``session_start`` of ``exercise`` for ``wearer`` would be taken: the exercise is in the catalog
        and, with prescriptions, prescribed to the wearer (read again first when they may change). A prompt's
        "Start" button is offered only then (alerts/channels/http.py)."""
        if self.reload is not None:
            self.prescriptions = self.reload()
        return may_start(self.catalog, self.prescriptions, wearer, exercise)

    def command(self, command: CommandV1, now_ms: int = 0) -> list[EventV1]:
        """A ``session_start`` (its ``exercise`` resolved already when it names a prompt) or ``session_end``; other
        kinds are not this verifier's (nothing). A session_end concludes the session once its stream is in (the
        sender's final chunk, ``samples``; or ``due`` after ``END_WAIT_S`` from ``now_ms``, the caller's clock);
        a session without a stream at once. Raises SessionRefused for a start without an exercise, an exercise
        not in the catalog or not prescribed to the wearer, or an end for a session that is not running."""
        at_ms = round(command.at.timestamp() * 1000)
        if command.kind == "session_start":
            if command.exercise is None:
                self.refused["no exercise"] += 1
                raise SessionRefused(
                    f"session_start for wearer {command.wearer!r}: no exercise (prompt {command.prompt_id!r} is not "
                    "known: it expired or was never sent)"
                )
            return self._start(
                command, command.exercise, command.session or session_id(command.exercise, command.at), at_ms
            )
        if command.kind == "session_end":
            current = self.running.get(command.wearer)
            if current is None or command.session not in (None, current.session):
                self.refused["end without a session"] += 1
                raise SessionRefused(
                    f"session_end for wearer {command.wearer!r}: session {command.session!r} is not running "
                    f"({'none is' if current is None else repr(current.session) + ' is'})"
                )
            if current.closed_at_ms is not None or current.device is None:  # the stream is in, or there is none
                del self.running[command.wearer]
                return [self._outcome(current, command, at_ms, None)]
            del self.running[command.wearer]
            current.ending, current.end_seen_ms = command, now_ms
            self.closing[(command.wearer, current.session)] = current
        return []

    def due(self, now_ms: int) -> list[EventV1]:
        """The outcomes of ended sessions whose stream's final chunk has not come ``END_WAIT_S`` after their
        session_end (``now_ms``: the service's clock, as given to ``command``), or that were ending when the service
        restarted (``restore``): concluded as they are."""
        out: list[EventV1] = []
        for key, s in list(self.closing.items()):
            if s.ending is not None and (s.restarted or now_ms - s.end_seen_ms >= END_WAIT_S * 1000):
                del self.closing[key]
                out.append(self._outcome(s, s.ending, round(s.ending.at.timestamp() * 1000), None))
        return out

    def _start(self, command: CommandV1, exercise: str, session: str, at_ms: int) -> list[EventV1]:
        entry = self.catalog.get(exercise)
        if entry is None:
            self.refused["unknown exercise"] += 1
            raise SessionRefused(
                f"session_start for wearer {command.wearer!r}: exercise {exercise!r} is not in the catalog"
            )
        prescribed = None
        if self.reload is not None:
            self.prescriptions = self.reload()
        if not may_start(self.catalog, self.prescriptions, command.wearer, exercise):
            self.refused["not prescribed"] += 1
            raise SessionRefused(
                f"session_start for wearer {command.wearer!r}: {exercise!r} is not prescribed to this wearer "
                "(the prescriptions file lists what each wearer may start)"
            )
        if self.prescriptions is not None:  # may_start found it among the wearer's entries
            prescribed = next((p for p in self.prescriptions.get(command.wearer, []) if p.exercise == exercise), None)
        out: list[EventV1] = []
        if (same := self.running.get(command.wearer)) is not None and same.session == session:
            return out  # the same start again (redelivered after a restart): the session goes on
        previous = self.running.pop(command.wearer, None)
        if previous is not None:
            out.append(self._outcome(previous, command, at_ms, "a new session started before this one ended"))
        elif len(self.running) >= MAX_SESSIONS:
            self.refused["too many sessions"] += 1
            raise SessionRefused(f"session_start for wearer {command.wearer!r}: {MAX_SESSIONS} sessions run already")
        verify = entry.verify or ("hold" if prescribed is not None and prescribed.kind == "hold" else None)
        self.running[command.wearer] = RunningSession(command.wearer, session, exercise, at_ms, verify, prescribed)
        return out

    def samples(self, chunk: SessionSamplesV1) -> tuple[list[EventV1], str | None]:
        """One stream chunk into its session: the outcome when it is the final chunk of an ended session, and a
        reason when part of it was refused (samples past the bound, repeats; None when all was kept). Raises
        SessionRefused when none of it can be used (no such session running, another device's)."""
        current = self.running.get(chunk.wearer)
        if current is None or current.session != chunk.session:
            current = self.closing.get((chunk.wearer, chunk.session))
        if current is None:
            self.refused["stream without a session"] += 1
            raise SessionRefused(
                f"session stream from {chunk.wearer}/{chunk.device}: session {chunk.session!r} is not running "
                "(a stream is sent only between session_start and session_end)"
            )
        if current.device is None:
            current.device = chunk.device
        elif current.device != chunk.device:
            self.refused["another device"] += 1
            raise SessionRefused(
                f"session stream from {chunk.wearer}/{chunk.device}: session {chunk.session!r} takes "
                f"{current.device!r}'s samples (one trunk sensor per session)"
            )
        held = sum(len(r.samples) for r in (*self.running.values(), *self.closing.values()))
        if held + len(chunk.dt_ms) > MAX_HELD_SAMPLES and chunk.dt_ms:
            self.refused["all sessions over their bound"] += 1
            raise SessionRefused(
                f"session stream from {chunk.wearer}/{chunk.device}: {held} samples of running sessions are held "
                f"already (at most {MAX_HELD_SAMPLES}); this chunk is refused"
            )
        if chunk.seq > current.next_seq:
            current.chunks_lost += chunk.seq - current.next_seq
        current.next_seq = max(current.next_seq, chunk.seq + 1)
        before = (current.samples.refused, current.samples.duplicates, current.samples.invalid)
        t_ms = chunk.t0_ms + np.asarray(chunk.dt_ms, dtype=np.int64)
        acc_g = np.asarray(chunk.acc_mg, dtype=np.float64).reshape(-1, 3) / 1000.0
        current.samples.push(t_ms, acc_g)
        refused = current.samples.refused - before[0]
        repeated = current.samples.duplicates - before[1]
        reason = None
        if refused:
            self.refused["stream over its bound"] += 1
            reason = f"session {chunk.session!r}: {refused} samples past its bound of {MAX_SESSION_SAMPLES} refused"
        elif repeated:
            reason = f"session {chunk.session!r}: {repeated} samples repeated or out of order, ignored"
        if chunk.last:
            current.closed_at_ms = chunk.t0_ms + (chunk.dt_ms[-1] if chunk.dt_ms else 0)
            if current.ending is not None:
                del self.closing[(chunk.wearer, chunk.session)]
                end = current.ending
                return [self._outcome(current, end, round(end.at.timestamp() * 1000), None)], reason
        return [], reason

    def _outcome(self, s: RunningSession, command: CommandV1, at_ms: int, ended_by: str | None) -> EventV1:
        t_ms, acc_g = s.samples.arrays()
        metrics: dict[str, float] = {"samples": float(len(t_ms)), "chunks_lost": float(s.chunks_lost)}
        if s.samples.refused:
            metrics["samples_refused"] = float(s.samples.refused)
        if command.kind == "session_end":
            if command.effort is not None:
                metrics["effort"] = float(command.effort)
            if command.pain is not None:
                metrics["pain"] = float(command.pain)
        problems = [ended_by] if ended_by else []
        outcome: SessionOutcome
        if s.verify is None:  # the sensor cannot judge it: the wearer's word
            outcome, metrics["verified"] = "done", 0.0
        else:
            lost_s = _lost_s(t_ms, s.closed_at_ms)
            if s.restarted:
                problems.append("the alert service restarted during the session: the samples before it were lost")
            if len(t_ms) == 0:
                problems.append("no session stream from a sensor: not verified")
            elif s.closed_at_ms is None and ended_by is None:
                problems.append(f"the stream was not closed {END_WAIT_S:.0f} s after the end: sensor or sender lost")
            if lost_s > LOST_S:
                problems.append(f"sensor lost for {lost_s:.0f} s during the session")
                metrics["lost_s"] = round(lost_s, 1)
            achieved, wanted = _verify(s, t_ms, acc_g, metrics) if len(t_ms) else (0.0, None)
            metrics["verified"] = 1.0 if len(t_ms) else 0.0
            if len(problems) > (1 if ended_by else 0):  # the sensor failed: incomplete, whatever it saw
                outcome = "partial"
            else:
                outcome = "skipped" if achieved <= 0 else "done" if wanted is None or achieved >= wanted else "partial"
        return EventV1(
            kind="session_outcome",
            wearer=command.wearer,
            t=command.at,
            duration_s=max(0.0, (at_ms - s.started_ms) / 1000.0),
            exercise=s.exercise,
            session=s.session,
            outcome=outcome,
            reason="; ".join(problems)[:200] or None,
            metrics=metrics,
            bout_start=command.at - timedelta(milliseconds=max(0, at_ms - s.started_ms)),
        )


def _lost_s(t_ms: np.ndarray, closed_at_ms: int | None) -> float:
    """The longest stretch without samples from the first sample to the stream's close (the sender's final chunk:
    its clock, so no other clock is compared), in s; 0 without samples. A stream that begins late is a late start,
    not a lost sensor."""
    if len(t_ms) == 0:
        return 0.0
    edges = t_ms if closed_at_ms is None else np.concatenate((t_ms, [max(closed_at_ms, int(t_ms[-1]))]))
    return float(np.diff(edges).max()) / 1000.0 if len(edges) > 1 else 0.0


def _verify(
    s: RunningSession, t_ms: np.ndarray, acc_g: np.ndarray, metrics: dict[str, float]
) -> tuple[float, float | None]:
    """Run the session's detector: (dose achieved, dose prescribed or None), with its figures added to
    ``metrics``."""
    p = s.prescribed
    if s.verify == "sit_to_stand":
        tempo = p.tempo if p is not None else None
        found = sit_to_stand_set(
            t_ms, acc_g, down_s=tempo.down_s if tempo else None, up_s=tempo.up_s if tempo else None
        )
        metrics["reps"] = float(found.reps)
        rises = [m.duration_s for m in found.movements if m.kind == "rise"]
        lowerings = [m.duration_s for m in found.movements if m.kind == "lowering"]
        if rises:
            metrics["rise_s"] = round(statistics.median(rises), 2)
        if lowerings:
            metrics["lowering_s"] = round(statistics.median(lowerings), 2)
        if tempo is not None:
            metrics["within_tempo"] = float(found.within_tempo)
        wanted = float(p.sets * p.reps) if p is not None and p.reps is not None else None
        if wanted is not None:
            metrics["reps_prescribed"] = wanted
        return float(found.reps), wanted
    if s.verify == "hold":
        found_holds = holds(t_ms, acc_g)
        target = p.hold_s if p is not None and p.hold_s is not None else None
        counted = [h for h in found_holds if target is None or h.hold_s >= HOLD_SHARE * target]
        metrics["holds"] = float(len(counted))
        metrics["hold_s"] = round(sum(h.hold_s for h in counted), 1)
        if counted:
            metrics["sway_deg"] = round(statistics.median(h.sway_deg for h in counted), 2)
            metrics["shake_mg"] = round(statistics.median(h.shake_mg for h in counted), 1)
        if p is not None and target is not None:
            metrics["holds_prescribed"], metrics["hold_s_prescribed"] = float(p.sets), target
            return float(len(counted)), float(p.sets)
        return float(len(counted)), None
    if s.verify == "mobility":
        found_mobility = mobility(t_ms, acc_g)
        cycles = 0.0 if found_mobility is None else found_mobility.cycles
        metrics["cycles"] = cycles
        if found_mobility is not None:
            metrics["range_deg"] = found_mobility.range_deg
            if found_mobility.ldlj is not None:
                metrics["ldlj"] = found_mobility.ldlj
        wanted = float(p.sets * p.reps) if p is not None and p.reps is not None else None
        if wanted is not None:
            metrics["cycles_prescribed"] = wanted
        return cycles, wanted
    if s.verify == "breathing":
        result = breathing_reset(t_ms, acc_g, BREATHING_TARGET_PER_MIN)
        metrics["target_per_min"] = BREATHING_TARGET_PER_MIN
        if result.breaths_per_min is not None:
            metrics["breaths_per_min"] = result.breaths_per_min
        if result.longer_to_shorter is not None:
            metrics["longer_to_shorter"] = result.longer_to_shorter
        metrics["reached"] = 1.0 if result.reached else 0.0
        return (1.0 if result.reached else 0.5 if result.breaths_per_min is not None else 0.0), 1.0
    return 0.0, None
