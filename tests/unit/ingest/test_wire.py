from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import WireError
from ingest.store.fast_features import decode_features
from ingest.wire import (
    CommandV1,
    ConsentV1,
    DeadLetterV1,
    EventV1,
    FeatureBatchV1,
    FeatureFrameV1,
    Topics,
    decode,
    encode,
)

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z

TOPICS = Topics("kinetic")


def batch(**overrides: object) -> FeatureBatchV1:
    data: dict[str, object] = {
        "wearer": "ann",
        "device": "ann-thigh",
        "placement": "thigh",
        "seq": 0,
        "frames": [FeatureFrameV1(t_ms=T0 + 1000 * i, incl_deg=80, enmo_mg=2, n=50) for i in range(3)],
    }
    data.update(overrides)
    return FeatureBatchV1.model_validate(data)


def test_topics_are_versioned_per_wearer_and_device() -> None:
    assert TOPICS.features("ann", "ann-thigh") == "kinetic/v1/ann/ann-thigh/features"
    assert TOPICS.status("ann", "ann-thigh") == "kinetic/v1/ann/ann-thigh/status"
    assert TOPICS.prompts("ann") == "kinetic/v1/ann/prompts"
    assert TOPICS.events("ann") == "kinetic/v1/ann/events"
    assert TOPICS.dead_letter("bridge") == "kinetic/v1/_deadletter/bridge"
    assert TOPICS.all_features() == "kinetic/v1/+/+/features"


@pytest.mark.parametrize(
    ("topic", "kind", "wearer", "device"),
    [
        ("kinetic/v1/ann/ann-thigh/features", "features", "ann", "ann-thigh"),
        ("kinetic/v1/ann/d1/status", "status", "ann", "d1"),
        ("kinetic/v1/ann/prompts", "prompts", "ann", None),
        ("kinetic/v1/ann/events", "events", "ann", None),
        ("kinetic/v1/ann/consent", "consent", "ann", None),
        ("kinetic/v1/_deadletter/alerts", "deadletter", None, None),
    ],
)
def test_parse_is_the_inverse_of_the_builders(topic: str, kind: str, wearer: str | None, device: str | None) -> None:
    address = TOPICS.parse(topic)
    assert (address.kind, address.wearer, address.device) == (kind, wearer, device)


@pytest.mark.parametrize(
    "topic", ["kinetic/v2/ann/prompts", "other/v1/ann/prompts", "kinetic/v1/Ann/prompts", "kinetic/v1/ann/x/y/z"]
)
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(WireError):
        TOPICS.parse(topic)


@pytest.mark.parametrize("bad", ["Ann", "_x", "a b", "a/b", "a+", "", "x" * 65])
def test_ids_that_would_break_topics_or_tags_are_refused(bad: str) -> None:
    with pytest.raises(WireError, match="must match"):
        TOPICS.features(bad, "d")


def test_a_batch_round_trips_through_json() -> None:
    original = batch()
    address, decoded = decode(TOPICS, TOPICS.features("ann", "ann-thigh"), encode(original))
    assert address.kind == "features" and decoded == original


def test_unknown_fields_are_forbidden() -> None:
    payload = json.loads(encode(batch()))
    payload["colour"] = "red"
    with pytest.raises(WireError, match="colour: Extra inputs are not permitted"):
        decode(TOPICS, TOPICS.features("ann", "ann-thigh"), json.dumps(payload).encode())


def test_frames_must_be_in_time_order() -> None:
    frames = [FeatureFrameV1(t_ms=T0 + t, incl_deg=1, enmo_mg=1, n=1) for t in (2000, 1000)]
    with pytest.raises(ValueError, match="strictly increasing"):
        batch(frames=frames)


def test_payload_must_speak_for_its_own_topic() -> None:
    with pytest.raises(WireError, match="does not match topic wearer 'bob'"):
        decode(TOPICS, TOPICS.features("bob", "ann-thigh"), encode(batch()))
    with pytest.raises(WireError, match="does not match topic device 'other'"):
        decode(TOPICS, TOPICS.features("ann", "other"), encode(batch()))


def test_dead_letter_keeps_binary_payloads_intact() -> None:
    letter = DeadLetterV1.wrap(
        service="bridge", topic="t", reason="r", payload=b"\xff\x00", received=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert letter.payload_encoding == "base64" and letter.payload == "/wA="


@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_raises_only_wire_errors(payload: bytes) -> None:
    for topic in (
        TOPICS.features("ann", "d"),
        TOPICS.prompts("ann"),
        TOPICS.events("ann"),
        TOPICS.status("a", "b"),
    ):
        with contextlib.suppress(WireError):
            decode(TOPICS, topic, payload)


@given(
    st.dictionaries(
        st.sampled_from(["v", "wearer", "device", "placement", "seq", "frames", "x"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3)),
    )
)
def test_decoding_arbitrary_json_raises_only_wire_errors(payload: dict[str, object]) -> None:
    with contextlib.suppress(WireError):
        decode(TOPICS, TOPICS.features("ann", "d"), json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"gx": 0.1}, "frames.1: gx, gy and gz go together"),
        ({"gx": 0.1, "gy": 0.2}, "frames.1: gx, gy and gz go together"),
        ({}, "frames.1: a frame needs the gravity vector"),
    ],
)
def test_every_frame_needs_the_whole_gravity_vector_or_an_inclination(fields: dict[str, float], reason: str) -> None:
    payload = json.loads(encode(batch()))
    del payload["frames"][1]["incl_deg"]
    payload["frames"][1].update(fields)
    with pytest.raises(WireError, match=reason):
        decode(TOPICS, TOPICS.features("ann", "ann-thigh"), json.dumps(payload).encode())


# --- free text (issue 13): one line of printable characters, each field with its bound -------------------------

AT = "2026-11-23T09:00:00+00:00"
VALID: dict[str, tuple[str, dict[str, object]]] = {
    "status": (TOPICS.status("ann", "d1"), {"wearer": "ann", "device": "d1", "state": "online", "firmware": "1.2"}),
    "prompt": (
        TOPICS.prompts("ann"),
        {
            "id": "ann-sitting-1",
            "wearer": "ann",
            "trigger": "sitting",
            "exercise": "hip-opening-sequence",
            "title": "t",
            "text": "t",
            "created": AT,
            "expires": AT,
        },
    ),
    "event": (
        TOPICS.events("ann"),
        {"kind": "prompt_held", "wearer": "ann", "t": AT, "posture": "sitting", "prompt_id": "p", "reason": "r"},
    ),
    "command": (
        TOPICS.commands("ann"),
        {"kind": "ack", "wearer": "ann", "at": AT, "prompt_id": "p", "source": "cli"},
    ),
    "deadletter": (
        TOPICS.dead_letter("bridge"),
        {
            "service": "bridge",
            "topic": "t",
            "reason": "r",
            "payload": "x",
            "payload_encoding": "utf-8",
            "received": AT,
        },
    ),
}
FREE_TEXT = [
    ("status", "firmware"),
    ("prompt", "id"),
    ("prompt", "title"),
    ("prompt", "text"),
    ("event", "posture"),
    ("event", "prompt_id"),
    ("event", "reason"),
    ("command", "prompt_id"),
    ("command", "source"),
    ("deadletter", "topic"),
    ("deadletter", "reason"),
]


def decode_with(message: str, field: str, value: object) -> object:
    topic, payload = VALID[message]
    return decode(TOPICS, topic, json.dumps({**payload, field: value}).encode())[1]


@pytest.mark.parametrize(("message", "field"), FREE_TEXT)
@pytest.mark.parametrize(
    ("value", "shown"),
    [("one\ntwo", "U+000A at position 3"), ("\x00\x00", "U+0000 at position 0"), ("a\x85", "U+0085")],
)
def test_a_control_character_in_free_text_is_refused_naming_the_field(
    message: str, field: str, value: str, shown: str
) -> None:
    with pytest.raises(WireError, match=re.escape(f": {field}: control character {shown}")):
        decode_with(message, field, value)


@pytest.mark.parametrize(("message", "field"), FREE_TEXT)
def test_free_text_is_stored_exactly_as_sent(message: str, field: str) -> None:
    value = 'C:\\x, "quoted" = 1 \\ é 😀'[: 32 if field == "posture" else None]
    assert getattr(decode_with(message, field, value), field) == value


@pytest.mark.parametrize(("message", "field", "limit"), [("status", "firmware", 64), ("prompt", "title", 120)])
def test_free_text_has_a_length_bound(message: str, field: str, limit: int) -> None:
    decode_with(message, field, "x" * limit)
    with pytest.raises(WireError, match=f"{field}: String should have at most {limit} characters"):
        decode_with(message, field, "x" * (limit + 1))


@pytest.mark.parametrize("message", ["prompt", "event"])
def test_the_exercise_is_a_catalog_id(message: str) -> None:
    """It is a tag of prompt_outcomes: "hip\\" ended a tag value in a backslash, which influxd refused (issue 13)."""
    with pytest.raises(WireError, match="exercise: String should match pattern"):
        decode_with(message, "exercise", "hip\\")


@pytest.mark.parametrize(
    "settings", [{"timezone": "UTC\n"}, {"quiet_hours": ["12:00-13:00", "a\tb"]}, {"x\ny": 1}, {"a": "x" * 201}]
)
def test_every_string_in_a_policy_command_is_one_short_line(settings: dict[str, object]) -> None:
    payload = {"kind": "policy", "wearer": "ann", "at": AT, "settings": settings}
    with pytest.raises(WireError, match=r"settings: (control character|a text of 201 characters)"):
        decode(TOPICS, TOPICS.commands("ann"), json.dumps(payload).encode())


@pytest.mark.parametrize("bad", ["ann\n", "ann\r\n"])
def test_an_id_with_a_trailing_line_feed_is_refused(bad: str) -> None:
    """Python's "$" also matches before a final line feed; pydantic's does not. Both must refuse."""
    with pytest.raises(WireError, match="must match"):
        TOPICS.features(bad, "d")
    with pytest.raises(WireError, match="not a Kinetic v1 topic"):
        TOPICS.parse(f"kinetic/v1/{bad}/d/features")


@given(st.text(max_size=3000), st.text(max_size=3000))
def test_a_dead_letter_can_always_be_written_whatever_it_quotes(topic: str, reason: str) -> None:
    """A service dead-letters whatever it received: the letter itself never fails the contract."""
    letter = DeadLetterV1.wrap(service="bridge", topic=topic, reason=reason, payload=b"x", received=datetime.now(UTC))
    assert decode(TOPICS, TOPICS.dead_letter("bridge"), encode(letter))[1] == letter
    if len(reason) < 100 and reason.isprintable():
        assert letter.reason == reason


def test_a_frame_may_carry_a_postural_transition_and_old_frames_still_decode() -> None:
    old = {"t_ms": 1_767_600_000_000, "gx": 0.0, "gy": 0.0, "gz": 1.0, "enmo_mg": 1.0, "sd_mg": 2.0, "n": 50}
    new = {**old, "t_ms": old["t_ms"] + 1000, "trans": "stand_to_sit", "trans_conf": 0.7, "trans_lag_ms": 2500}
    message = {"v": 1, "wearer": "ann", "device": "ann-chest", "placement": "trunk", "seq": 1, "frames": [old, new]}
    payload = json.dumps(message).encode()
    _, decoded = decode(TOPICS, TOPICS.features("ann", "ann-chest"), payload)
    assert isinstance(decoded, FeatureBatchV1)
    first, second = decoded.frames
    assert (first.trans, first.trans_conf, first.trans_lag_ms) == (None, None, None)
    assert (second.trans, second.trans_conf, second.trans_lag_ms) == ("stand_to_sit", 0.7, 2500)
    fast = decode_features(payload)  # the bridge's fast path knows the new fields too
    assert fast is not None and [f.t_ms for f in fast.frames] == [first.t_ms, second.t_ms]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"trans": "sit_to_lie"}, "trans"),
        ({"trans": "stand_to_sit", "trans_conf": 1.5}, "trans_conf"),
        ({"trans": "stand_to_sit", "trans_lag_ms": -1}, "trans_lag_ms"),
        ({"trans": "stand_to_sit", "trans_lag_ms": 600_000}, "trans_lag_ms"),
    ],
)
def test_a_transition_the_contract_does_not_know_is_refused_naming_the_field(
    fields: dict[str, object], where: str
) -> None:
    frame = {"t_ms": 1_767_600_000_000, "incl_deg": 5.0, "enmo_mg": 1.0, "n": 50, **fields}
    message = {"v": 1, "wearer": "ann", "device": "ann-chest", "placement": "trunk", "seq": 1, "frames": [frame]}
    with pytest.raises(WireError, match=where):
        decode(TOPICS, TOPICS.features("ann", "ann-chest"), json.dumps(message).encode())


def test_consent_changes_travel_on_the_consent_topic_only() -> None:
    """Issue 20: the broker's ACL restricts topics, not an event's kind; so consent has a topic of its own (writable by
    the wearer's own logins) and a consent event on the events topic is refused by every reader, as is any other
    kind on the consent topic."""
    grant = EventV1(
        kind="consent_granted",
        wearer="ann",
        t=datetime(2026, 1, 5, tzinfo=UTC),
        consent=ConsentV1(clinic="c", data=["posture"]),
    )
    bout = EventV1(kind="bout_started", wearer="ann", t=datetime(2026, 1, 5, tzinfo=UTC), posture="sitting")
    assert TOPICS.event_topic(grant) == TOPICS.consent("ann") == "kinetic/v1/ann/consent"
    assert TOPICS.event_topic(bout) == TOPICS.events("ann")
    assert TOPICS.all_consent() == "kinetic/v1/+/consent"
    assert decode(TOPICS, TOPICS.consent("ann"), encode(grant))[1] == grant
    assert decode(TOPICS, TOPICS.events("ann"), encode(bout))[1] == bout
    with pytest.raises(WireError, match=r"^consent_granted on an events topic: consent changes are taken from"):
        decode(TOPICS, TOPICS.events("ann"), encode(grant))
    with pytest.raises(WireError, match=r"^bout_started on a consent topic"):
        decode(TOPICS, TOPICS.consent("ann"), encode(bout))
    with pytest.raises(WireError, match="does not match topic wearer"):
        decode(TOPICS, TOPICS.consent("bob"), encode(grant))


OWN_AT = datetime(2026, 1, 5, tzinfo=UTC)
FORGET = CommandV1(kind="forget", wearer="ann", at=OWN_AT, source="cli")
PAUSE = CommandV1(kind="pause", wearer="ann", at=OWN_AT)
CHANGED = EventV1(kind="prescription_changed", wearer="ann", t=OWN_AT, exercise="controlled-sit-to-stand")
PROPOSED = EventV1(kind="progression_proposed", wearer="ann", t=OWN_AT, exercise="controlled-sit-to-stand")
CHECKIN = EventV1(kind="checkin", wearer="ann", t=OWN_AT)


@pytest.mark.parametrize(
    ("own", "kinds", "other", "refused_there", "foreign", "refused_here"),
    [
        # erasure: forget from the erasure topic only (the operator's and the wearer's own logins write it); the
        # commands topic is written by the web app, Home Assistant and the alert service
        (
            "erasure",
            [FORGET],
            "commands",
            "forget on a commands topic: erasure is taken from <root>/v1/<wearer>/erasure only",
            PAUSE,
            "pause on an erasure topic: it carries forget only",
        ),
        # prescriptions: a clinician's decisions from the prescriptions topic only (the clinicians' logins of the
        # wearer's clinic and the operator write it); the events topic is written by the alert service and the web app
        (
            "prescriptions",
            [CHANGED, PROPOSED],
            "events",
            "prescription_changed on an events topic: prescription changes are taken from "
            "<root>/v1/<wearer>/prescriptions only",
            CHECKIN,
            "checkin on a prescriptions topic: it carries prescription_changed / progression_proposed / "
            "session_adherence only",
        ),
    ],
)
def test_what_must_not_be_forged_travels_on_a_topic_of_its_own(
    own: str,
    kinds: list[CommandV1 | EventV1],
    other: str,
    refused_there: str,
    foreign: CommandV1 | EventV1,
    refused_here: str,
) -> None:
    """Issue 20: the broker's ACL restricts topics, not a message's kind, so each such kind has a topic of its own; on
    the shared topic it is refused by every reader, and its own topic carries nothing else."""
    own_topic, other_topic = f"kinetic/v1/ann/{own}", f"kinetic/v1/ann/{other}"
    assert TOPICS.parse(own_topic).kind == own
    assert getattr(TOPICS, f"all_{own}")() == f"kinetic/v1/+/{own}"
    for message in kinds:
        where = TOPICS.command_topic(message) if isinstance(message, CommandV1) else TOPICS.event_topic(message)
        assert where == own_topic
        assert decode(TOPICS, own_topic, encode(message))[1] == message
    assert decode(TOPICS, other_topic, encode(foreign))[1] == foreign
    with pytest.raises(WireError) as there:
        decode(TOPICS, other_topic, encode(kinds[0]))
    assert str(there.value) == refused_there
    with pytest.raises(WireError) as here:
        decode(TOPICS, own_topic, encode(foreign))
    assert str(here.value) == refused_here
    with pytest.raises(WireError, match="does not match topic wearer"):
        decode(TOPICS, f"kinetic/v1/bob/{own}", encode(kinds[0]))


def test_a_pause_says_whether_it_is_a_span_and_an_old_one_decodes_as_before() -> None:
    """Issue 17: ``for_min`` marks a pause as a span from ``at`` (``until`` filled in as its end); a pause written
    before the field (``until`` alone) decodes as it did, as a time of the wearer's day; a ``for_min`` that
    contradicts ``until``, or on another kind, is refused naming it."""
    topic = TOPICS.commands("ann")
    old = b'{"v":1,"kind":"pause","wearer":"ann","at":"2026-01-05T09:00:00Z","until":"2026-01-05T10:30:00Z"}'
    _, command = decode(TOPICS, topic, old)
    assert isinstance(command, CommandV1)
    assert (command.until, command.for_min) == (datetime(2026, 1, 5, 10, 30, tzinfo=UTC), None)
    span = b'{"v":1,"kind":"pause","wearer":"ann","at":"2026-01-05T09:00:00Z","for_min":90}'
    _, command = decode(TOPICS, topic, span)
    assert isinstance(command, CommandV1)
    assert (command.until, command.for_min) == (datetime(2026, 1, 5, 10, 30, tzinfo=UTC), 90)
    _, again = decode(TOPICS, topic, encode(command))  # both fields on the wire, in agreement
    assert again == command
    with pytest.raises(WireError, match="is not at \\+ for_min"):
        decode(TOPICS, topic, span.replace(b"}", b',"until":"2026-01-05T11:00:00Z"}'))
    with pytest.raises(WireError, match="for_min belongs to a 'pause' command, not 'resume'"):
        decode(TOPICS, topic, span.replace(b'"pause"', b'"resume"'))
