"""Line protocol against real influxd: what the v1 sink writes is read back exactly, and it is what the embedded
store holds; what line protocol cannot carry is refused by both stores, and by the wire contract before that."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.errors import SinkRejected
from ingest.settings import InfluxSettings, MqttSettings
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.influxql_queries import InfluxQLQueries
from ingest.store.points import LineProtocolError, Point, to_line, to_line_protocol
from ingest.wire import DeadLetterV1, DeviceStatusV1, EventV1, PromptV1, Topics, decode, encode
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, running_pipeline, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

TOPICS = Topics("kinetic")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_numbers = itertools.count()


def sink(influxd: Server, database: str) -> InfluxV1Sink:
    return InfluxV1Sink(InfluxSettings(url=influxd.url, database=database))


async def stored_rows(influx: InfluxV1Sink) -> list[tuple[str, int, dict[str, Any]]]:
    """Every point in the database: measurement, time, and its tags and fields (nulls left out)."""
    result = await influx.query("SELECT * FROM /.*/")
    rows = []
    for series in result["results"][0].get("series", []):
        for values in series["values"]:
            row = {k: v for k, v in zip(series["columns"], values, strict=True) if v is not None}
            rows.append((series["name"], row.pop("time"), row))
    return sorted(rows, key=by_time)


def by_time(row: tuple[str, int, dict[str, Any]]) -> int:
    return row[1]


# Every character line protocol treats specially, control characters and a few beyond ASCII.
SPECIAL = [*'ab\\,= "#', "\t", "\x00", "\x0b", "\x0c", "\x1f", "\x7f", "\x85", "\xa0", "\u2028", "é", "😀"]
names = st.text(st.sampled_from(SPECIAL), min_size=1, max_size=6)  # line breaks: the test below


@st.composite
def points(draw: st.DrawFn, t_ms: int) -> Point:
    # tag keys start with "t", field keys with "f" (and one field "n"): no field has a tag's name or another
    # point's field type in the same measurement
    tags = {"t" + draw(names): draw(names) for _ in range(draw(st.integers(0, 2)))}
    return Point.make(draw(names), tags, {"f" + draw(names): draw(names), "n": t_ms}, t_ms)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True).flatmap(lambda ts: st.tuples(*map(points, ts))))
@example((Point.make("a b", {"t": "C:\\temp\\x", "q": '"quoted"'}, {"f": 'say "hi" \\', "n": 1}, 1),))
@example((Point.make(" lead", {"t#": "a=b,c d"}, {"f,=\\ x": "\\\\", "n": 1}, 1),))
def test_every_point_line_protocol_can_carry_reads_back_exactly_from_influxd(
    influxd: Server, tmp_path: Path, written: tuple[Point, ...]
) -> None:
    """Each point either reads back from influxd exactly as the embedded store holds it, which is exactly what was
    written (measurement, tags, fields, time), or both stores refuse it with a LineProtocolError before anything is
    sent; a canary line after them shows that no line swallowed another."""

    async def run() -> None:
        database = f"lp{next(_numbers)}"
        influx = sink(influxd, database)
        await influx.prepare()
        embedded = EmbeddedSink(tmp_path / f"{database}.sqlite")
        canary = Point.make("canary", {"t": "x"}, {"f": "ok"}, 10)
        kept = []
        for point in written:
            try:
                to_line(point)
            except LineProtocolError:
                with pytest.raises(LineProtocolError):
                    embedded.encode([point])  # the embedded store refuses exactly the same points
            else:
                kept.append(point)
        await influx.write_lines(to_line_protocol([*kept, canary]))
        await embedded.write([*kept, canary])
        await embedded.aclose()
        expected = sorted(((p.measurement, p.t_ms, {**dict(p.tags), **p.fields}) for p in [*kept, canary]), key=by_time)
        assert await stored_rows(influx) == expected
        with sqlite3.connect(tmp_path / f"{database}.sqlite") as db:
            rows = db.execute("SELECT measurement, t_ms, tags, fields FROM points").fetchall()
        assert (
            sorted(((m, t, {**json.loads(tags), **json.loads(f)}) for m, t, tags, f in rows), key=by_time) == expected
        )
        await influx.query(f'DROP DATABASE "{database}"', method="POST")

    asyncio.run(run())


@pytest.mark.parametrize(
    ("point", "naive_body", "reason"),
    [
        # the case from issue 13: a tag value ending in a backslash escapes the space after it (HTTP 400)
        (Point.make("m", {"exercise": "hip\\"}, {"n": 1}, 1), "m,exercise=hip\\ n=1i 1", "ends with a backslash"),
        # a line break in a string: cut at line ends (the bridge isolates a rejected line so), part of it is a line of
        # its own, here a stray measurement
        (Point.make("m", {}, {"text": "a\nstray n=1i\nb"}, 1), 'm text="a\nstray n=1i\nb" 1', "contains a line break"),
        (Point.make("m", {"time": "x"}, {"n": 1}, 1), "m,time=x n=1i 1", "tag key 'time' is reserved"),
        (Point.make("m", {}, {"time": 1}, 1), "m time=1i 1", "field key 'time' is reserved"),
    ],
)
def test_what_line_protocol_cannot_carry_is_refused_by_both_stores(
    influxd: Server, unique: str, tmp_path: Path, point: Point, naive_body: str, reason: str
) -> None:
    """influxd does not store these lines as meant, so both stores refuse the point, with the reason."""

    async def run() -> None:
        influx = sink(influxd, unique)
        await influx.prepare()
        for line in naive_body.split("\n"):
            with contextlib.suppress(SinkRejected):
                await influx.write_lines(line.encode() + b"\n")
        stored = await stored_rows(influx)
        assert stored != [(point.measurement, point.t_ms, {**dict(point.tags), **point.fields})]
        if "stray" in naive_body:
            assert [name for name, _, _ in stored] == ["stray"]
        with pytest.raises(LineProtocolError, match=reason):
            to_line(point)
        embedded = EmbeddedSink(tmp_path / "k.sqlite")
        with pytest.raises(LineProtocolError, match=reason):
            embedded.encode([point])
        await embedded.aclose()

    asyncio.run(run())


def test_backslashes_in_tags_are_stored_once_not_doubled(influxd: Server, unique: str) -> None:
    """Before issue 13 a tag value's backslash was written doubled, and influxd stored both."""

    async def run() -> None:
        influx = sink(influxd, unique)
        await influx.prepare()
        await influx.write([Point.make("m", {"path": "C:\\x\\y"}, {"text": "a\\b"}, 1)])
        assert await stored_rows(influx) == [("m", 1, {"path": "C:\\x\\y", "text": "a\\b"})]

    asyncio.run(run())


# Text the wire accepts: anything but control characters and surrogates, with what line protocol escapes.
wire_text = st.text(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
        st.sampled_from(list("\\\",= #'")),
    ),
    max_size=40,
)


def wire_messages(n: int, text: dict[str, str]) -> list[PromptV1 | EventV1 | DeviceStatusV1]:
    """A prompt, an event and a device status carrying the texts, as they come off the wire."""
    wearer = f"w{n}"
    created = T0 + timedelta(minutes=n)
    messages = [
        (
            TOPICS.prompts(wearer),
            PromptV1(
                id=text["id"] or "p",
                wearer=wearer,
                trigger="sitting",
                exercise="hip-opening-sequence",
                title=text["title"] or "t",
                text=text["text"] or "t",
                created=created,
                expires=created + timedelta(minutes=15),
            ),
        ),
        (
            TOPICS.events(wearer),
            EventV1(
                kind="prompt_held",
                wearer=wearer,
                t=created,
                posture=text["posture"][:32],
                prompt_id=text["id"],
                trigger="sitting",
                reason=text["reason"],
            ),
        ),
        (
            TOPICS.status(wearer, "d1"),
            DeviceStatusV1(
                wearer=wearer,
                device="d1",
                state="online",
                t_ms=round(created.timestamp() * 1000),
                firmware=text["firmware"],
            ),
        ),
    ]
    return [decode(TOPICS, topic, encode(message))[1] for topic, message in messages]  # type: ignore[misc]


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({k: wire_text for k in ("id", "title", "text", "posture", "reason", "firmware")}))
@example(
    {"id": "a\\", "title": 'say "hi"', "text": "x\\", "posture": "a,b=c d", "reason": "\\\\n", "firmware": "1.0 \\"}
)
def test_text_the_wire_accepts_reads_back_the_same_from_influxdb_and_the_embedded_store(
    influxd: Server, unique: str, tmp_path: Path, text: dict[str, str]
) -> None:
    """Random text through the v1 sink into influxd and back through the InfluxQL query layer is exactly what the
    embedded store holds for the same messages, and exactly what was sent."""
    n = next(_numbers)

    async def run() -> None:
        influx = sink(influxd, unique)
        await influx.prepare()
        embedded = EmbeddedSink(tmp_path / "k.sqlite")
        for message in wire_messages(n, text):
            for store in (influx, embedded):
                body, count = store.encode_message(message, 0)
                assert count == 1
                await store.write_lines(body)
        await embedded.aclose()
        queries = EmbeddedQueries(tmp_path / "k.sqlite")
        from_influx = await InfluxQLQueries(influx).export(f"w{n}")
        assert from_influx == await queries.export(f"w{n}")
        queries.close()
        (prompt,), (event,), (status,) = from_influx["prompts"], from_influx["events"], from_influx["device_status"]
        assert (prompt["id"], prompt["title"], prompt["text"]) == (
            text["id"] or "p",
            text["title"] or "t",
            text["text"] or "t",
        )
        assert (event["posture"], event["prompt_id"], event["reason"]) == (
            text["posture"][:32],
            text["id"],
            text["reason"],
        )
        assert status["firmware"] == text["firmware"]

    asyncio.run(run())


def test_the_bridge_dead_letters_text_it_cannot_store_and_stores_the_rest_exactly(
    mosquitto: Server, influxd: Server, tmp_path: Path, unique: str
) -> None:
    """Through real Mosquitto into real influxd: a prompt with a line break in its title is refused at the wire, a
    summary with a metric named "time" where it is stored; both dead-lettered with the reason, the bridge carries on
    and stores the next prompt's text exactly."""
    settings = KineticSettings(
        mqtt=MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=influxd.url, database=unique),
    )
    topics = Topics(unique)
    good = PromptV1(
        id="ann-sitting-1",
        wearer="ann",
        trigger="sitting",
        exercise="hip-opening-sequence",
        title='Hips, "open" = C:\\ \\',
        text="Stand up \\o/, step back; breathe.",
        created=T0,
        expires=T0 + timedelta(minutes=15),
    )
    bad_title = json.loads(encode(good)) | {"title": "Hips\nopen"}
    bad_metric = EventV1(kind="summary", wearer="ann", t=T0, metrics={"time": 1.0, "sitting_s": 60.0})

    async def run() -> tuple[list[DeadLetterV1], dict[str, Any]]:
        influx = sink(influxd, unique)
        await influx.prepare()
        async with (
            recording(settings, [topics.all_dead_letters()], f"{unique}-rec") as rec,
            running_pipeline(settings, influx, unique, tmp_path / "spool.sqlite") as pipeline,
            aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=f"{unique}-pub") as client,
        ):
            await client.publish(topics.prompts("ann"), json.dumps(bad_title).encode(), qos=1)
            await client.publish(topics.events("ann"), encode(bad_metric), qos=1)
            await client.publish(topics.prompts("ann"), encode(good), qos=1)
            await until(lambda: pipeline.bridge.counters.messages >= 3, 30, "three messages")
            await asyncio.wait_for(pipeline.bridge.drain(), 30)
            await until(lambda: len(rec.on("/_deadletter/bridge")) >= 2, 30, "two dead letters")
            exported = await InfluxQLQueries(influx).export("ann")
        letters = [DeadLetterV1.model_validate_json(p) for p in rec.on("/_deadletter/bridge")]
        return letters, exported

    letters, exported = asyncio.run(run())
    assert [letter.reason for letter in letters] == [
        "invalid PromptV1: title: control character U+000A at position 4: one line of printable text expected",
        "cannot store: field key 'time' is reserved by InfluxDB",
    ]
    (prompt,) = exported["prompts"]
    assert (prompt["title"], prompt["text"]) == (good.title, good.text)
    assert exported["summary_1h"] == []
