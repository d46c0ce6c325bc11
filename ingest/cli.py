"""The ingest side's commands: ``simulate``, ``bridge`` and ``collect``. The ``kinetic`` command (``kinetic.cli``)
assembles these with the other packages' commands (``kinetic data``, which spans the packages, is in kinetic/data.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ingest.backoff import Endpoint
from ingest.bridge import Bridge
from ingest.errors import SinkUnavailable
from ingest.heap import settle_heap
from ingest.mqtt import only_client, serve, wait_for_broker
from ingest.phone.export import is_export
from ingest.process import one_instance, run_until_signal
from ingest.retry import retry_until_reached
from ingest.settings import IngestConfig
from ingest.simulate.scenario import Scenario, lead_over_clock_ms, load_scenario
from ingest.simulate.service import simulate
from ingest.store import make_sink, make_wall
from ingest.store.spool import Spool, open_spool
from ingest.wire import Placement, Topics, check_id

if TYPE_CHECKING:
    from ingest.ble.simulate_ble import BleSimulation

_LOGGER = logging.getLogger("kinetic")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``simulate``, ``bridge`` and ``collect`` to the ``kinetic`` command's subcommands."""
    sim = sub.add_parser(
        "simulate",
        help="publish virtual wearers from a YAML scenario over MQTT",
        description="Virtual wearers follow a scripted day (docs/scenarios.md) and publish feature batches "
        "and device status over MQTT, in real or accelerated time, with timestamps from the scenario clock.",
    )
    sim.add_argument("scenario", type=Path, nargs="?", help="scenario YAML file (not with --replay)")
    sim.add_argument(
        "--speed",
        type=float,
        help="time acceleration, e.g. 600; 0 = as fast as possible (default: KINETIC_SIMULATE__SPEED, 1 = real time)",
    )
    sim.add_argument("--batch-s", type=int, help="seconds of frames per MQTT message (default 10)")
    sim.add_argument("--check", action="store_true", help="only check the scenario file and print a summary")
    sim.add_argument(
        "--ble",
        action="store_true",
        help="emulate the wearers as BLE sensors on a virtual radio and publish through the real collector "
        "(keep --speed modest: every 52 Hz sample is emulated)",
    )
    sim.add_argument(
        "--replay",
        type=Path,
        metavar="RECORDING",
        help="with --ble: send a recorded file (<dataset>/recordings/<file>.csv.gz, ../shared/data layout) "
        "through an emulated sensor at its own rate instead of a scenario; a Sensor Logger export (.zip or .json) "
        "goes through the phone source instead (docs/phone.md), no --ble needed",
    )
    sim.add_argument("--placement", choices=["thigh", "trunk", "wrist"], help="--replay: which sensor of the file")
    sim.add_argument(
        "--platform", choices=["ios", "android"], help="--replay of a Sensor Logger export: when its metadata lacks it"
    )
    sim.add_argument(
        "--standardised",
        action="store_true",
        help="--replay of a Sensor Logger export: it was recorded with 'Standardise Units & Frames' on",
    )
    sim.add_argument("--wearer", default="replay", help="--replay: the wearer id to publish as (default: replay)")
    sim.add_argument("--seconds", type=float, help="--replay: only the first N seconds")

    sub.add_parser(
        "bridge",
        help="MQTT -> InfluxDB (v1 HTTP API: 1.x, or 2.4+/3.x with a token) or the embedded store",
        description="Stores feature frames, device status, prompts and events. QoS 1, persistent session, "
        "many points per write, retries an unreachable database, dead-letters bad messages.",
    )
    phone = sub.add_parser(
        "phone",
        help="Sensor Logger phones (HTTP push, MQTT over websockets) -> per-second features over MQTT",
        description="Receives the phones in the phone settings ([[phone.phones]] in the TOML file; see docs/phone.md) "
        "and the phones with a token of their own (`kinetic phone token add`, or the web app's Settings page) "
        "on an HTTP push endpoint and on their MQTT topics, makes per-second features like the BLE collector and "
        "publishes them with an on-disk store-and-forward queue.",
    )
    phone_sub = phone.add_subparsers(dest="phone_command")
    token = phone_sub.add_parser(
        "token", help="per-device push tokens (KINETIC_PHONE__TOKENS_PATH): add, list, revoke"
    ).add_subparsers(dest="token_command", required=True)
    add = token.add_parser("add", help="make a phone a push token and print it and the push URL (shown once)")
    add.add_argument("wearer")
    add.add_argument("device", help="Kinetic's id for the phone, e.g. ann-pixel")
    add.add_argument("--platform", choices=["ios", "android"], required=True)
    add.add_argument("--placement", choices=["thigh", "trunk"], default="thigh")
    add.add_argument("--not-standardised", action="store_true", help="the app's 'Standardise Units & Frames' is off")
    listing = token.add_parser("list", help="the phones with a token (never the tokens: only hashes are kept)")
    listing.add_argument("wearer", nargs="?")
    revoke = token.add_parser("revoke", help="remove a phone's token: its next push is refused (401)")
    revoke.add_argument("wearer")
    revoke.add_argument("device")
    store = sub.add_parser(
        "store",
        help="set up the InfluxDB 1.x database with one least-privilege user per service (run once, as an admin)",
        description="provision: as the admin of KINETIC_INFLUX__USERNAME/PASSWORD, create the database, its raw "
        "retention policy and the users kinetic_bridge (WRITE), kinetic_reader (READ: Grafana, reports, the web "
        "app) and kinetic_operator (ALL: data export/delete), with the passwords deploy/make_secrets.py wrote "
        "(docs/deployment.md); with KINETIC_STORE__CLINIC_WALL also each clinic's database and read-only user "
        "kinetic_clinic_<uid> (its password made in --secrets when missing). Run again to change passwords: it is "
        "idempotent. With KINETIC_INFLUX__TOKEN (InfluxDB 2.x's all-access token): buckets, their InfluxQL mappings "
        "and one scoped token per service in --secrets (influxdb_<role>_token; ingest/store/access_v2.py).",
    )
    store_sub = store.add_subparsers(dest="store_command", required=True)
    provision = store_sub.add_parser("provision", help="database, retention policy and service users, with grants")
    provision.add_argument(
        "--secrets", type=Path, default=Path("deploy/secrets"), help="where influxdb_<role>_password files are"
    )
    provision.add_argument(
        "--influxdb3",
        action="store_true",
        help="InfluxDB 3 Enterprise: print the `influxdb3 create token` commands of the same scoped tokens (run them "
        "with the admin token in INFLUXDB3_AUTH_TOKEN); contacts no server. InfluxDB 3 Core has admin tokens only",
    )
    sub.add_parser(
        "collect",
        help="read the configured BLE wearables (bleak) and publish per-second features over MQTT",
        description="Scans for, connects to and streams from the wearables in the collector settings "
        "([[collector.wearables]] in the TOML file; see docs/collector.md), with an on-disk store-and-forward queue.",
    )


def _cmd_store(args: argparse.Namespace, settings: IngestConfig) -> int:
    from ingest.store.access import (  # noqa: PLC0415 - only this command needs it
        clinic_users_from_secrets,
        provision_v1,
        users_from_secrets,
    )

    if settings.store.kind == "embedded":
        print(
            "kinetic: error: store provision is for InfluxDB (KINETIC_STORE__KIND=influx_v1 or influx_v2)",
            file=sys.stderr,
        )
        return 2
    wall = make_wall(settings.store, settings.influx)
    if args.influxdb3:  # 3.x Enterprise: the commands to run, not run by Kinetic (ingest/store/access_v2.py)
        from ingest.store.access_v2 import influxdb3_token_commands  # noqa: PLC0415

        print("\n".join(influxdb3_token_commands(settings.influx.database, wall, args.secrets)))
        return 0
    if settings.influx.token is not None:  # 2.x: buckets, mappings and scoped tokens, made with the all-access token
        from ingest.store.access_v2 import provision_v2  # noqa: PLC0415

        for line in asyncio.run(provision_v2(settings.influx, args.secrets, wall)):
            print(f"provisioned {line}", file=sys.stderr)
        return 0
    users = users_from_secrets(args.secrets)
    clinics = tuple(clinic_users_from_secrets(args.secrets, list(wall.clinic_databases()))) if wall else ()
    for line in asyncio.run(provision_v1(settings.influx, users, wall, clinics)):
        print(f"provisioned {line}", file=sys.stderr)
    return 0


_Result = TypeVar("_Result")


class Published(Protocol):
    """What a simulation or a replay says it sent: MQTT messages (``batches``) and the frames in them."""

    @property
    def batches(self) -> int: ...

    @property
    def frames(self) -> int: ...


def _cmd_simulate(args: argparse.Namespace, settings: IngestConfig) -> int:

    if args.replay is not None:
        if is_export(args.replay):
            return _replay_export(args, settings)
        return _replay_ble(args, settings)
    if args.scenario is None:
        print("kinetic: error: simulate needs a scenario file (or --ble --replay RECORDING)", file=sys.stderr)
        return 2
    scenario = load_scenario(args.scenario)
    speed = settings.simulate.speed if args.speed is None else args.speed
    batch_s = settings.simulate.batch_s if args.batch_s is None else args.batch_s
    if speed < 0:
        print("kinetic: error: --speed must be >= 0 (0 = as fast as possible)", file=sys.stderr)
        return 2
    hours = scenario.duration_s / 3600
    print(
        f"scenario {args.scenario}: {len(scenario.wearers)} wearer(s), {hours:.2f} h from {scenario.start.isoformat()}",
        file=sys.stderr,
    )
    max_ahead_ms = settings.clock.max_ahead_ms
    lead_ms = lead_over_clock_ms(scenario, round(time.time() * 1000), speed)
    if max_ahead_ms is not None and lead_ms > max_ahead_ms:
        print(
            f"kinetic: error: scenario {args.scenario}: its frames would run up to {lead_ms / 3_600_000:.2f} h ahead "
            f"of this host's clock (from {scenario.start.isoformat()} at speed {speed:g}); the services refuse data "
            f"more than {max_ahead_ms / 1000:g} s ahead (KINETIC_CLOCK__MAX_AHEAD_S): start it earlier or lower "
            "--speed",
            file=sys.stderr,
        )
        return 2
    if args.check:
        return 0
    if args.ble:
        return _simulate_ble(scenario, settings, speed, batch_s)
    last_hour: dict[str, int] = {}

    def progress(wearer: str, done_s: int) -> None:
        hour = done_s // 3600
        if last_hour.get(wearer) != hour:
            last_hour[wearer] = hour
            _LOGGER.info("simulate %s: %d h of %.1f h published", wearer, hour, hours)

    return _publish_until_done(
        settings,
        "sim",
        lambda: simulate(
            scenario,
            mqtt=settings.mqtt,
            topics=Topics(settings.mqtt.topic_root),
            speed=speed,
            batch_s=batch_s,
            progress=progress,
        ),
    )


def _publish_until_done(
    settings: IngestConfig, role: str, publish: Callable[[], Coroutine[Any, Any, Published]]
) -> int:
    """Wait for the broker once (before each device opens its own connection), then run ``publish`` until it ends
    (print what it published) or a signal stops it (cancelled). Exit status 0."""
    return _run_until_done(
        publish,
        lambda result: f"published {result.frames} frames in {result.batches} messages",
        (settings, role),
    )


def _run_until_done(
    start: Callable[[], Coroutine[Any, Any, _Result]],
    said: Callable[[_Result], str],
    broker_first: tuple[IngestConfig, str] | None = None,
) -> int:
    """Run ``start()`` until it ends (print ``said(result)``) or a signal stops it (cancelled); with
    ``broker_first`` (settings, role), wait for the MQTT broker once before. Exit status 0."""

    async def job(stop: asyncio.Event) -> None:
        if broker_first is not None:
            settings, role = broker_first
            if not await wait_for_broker(settings.mqtt, f"{settings.mqtt.client_id_prefix}-{role}", stop):
                return
        task = asyncio.create_task(start())
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if task in done:
            print(said(task.result()), file=sys.stderr)
        else:
            task.cancel()

    run_until_signal(job)
    return 0


def _replay_ble(args: argparse.Namespace, settings: IngestConfig) -> int:
    from ingest.ble.simulate_ble import load_replay, replay_ble  # noqa: PLC0415 - Bumble is only needed here

    if not args.ble:
        print(
            "kinetic: error: --replay goes with --ble (the recording is sent over the virtual radio)", file=sys.stderr
        )
        return 2
    speed = settings.simulate.speed if args.speed is None else args.speed
    if speed <= 0:
        print("kinetic: error: --replay needs --speed above 0 (every sample is emulated)", file=sys.stderr)
        return 2
    replay = load_replay(args.replay, args.placement, args.seconds)
    seconds = replay.t_ms[-1] / 1000 if replay.t_ms else 0.0
    print(
        f"replay {replay.name}: {replay.placement} sensor, {len(replay.samples)} samples at {replay.rate_hz:g} Hz "
        f"({seconds:.0f} s, {seconds / speed:.0f} s at speed {speed:g}) as wearer {args.wearer}",
        file=sys.stderr,
    )

    return _run_ble_simulation(
        lambda: replay_ble(
            replay,
            wearer=check_id(args.wearer),
            mqtt=settings.mqtt,
            topics=Topics(settings.mqtt.topic_root),
            speed=speed,
            queue_path=settings.collector.queue_path,
            # the recording ends now: played faster than real time, its seconds never run ahead of the clock
            start_ms=int(time.time() * 1000) - round(seconds * 1000),
            batch_s=settings.simulate.batch_s,
        )
    )


def _replay_export(args: argparse.Namespace, settings: IngestConfig) -> int:
    from ingest.phone.export import open_export  # noqa: PLC0415
    from ingest.phone.replay import replay_export  # noqa: PLC0415

    speed = settings.simulate.speed if args.speed is None else args.speed
    if speed < 0:
        print("kinetic: error: --speed must be >= 0 (0 = as fast as possible)", file=sys.stderr)
        return 2
    if args.placement == "wrist":
        print("kinetic: error: a phone is worn in a pocket (thigh) or on the trunk, not the wrist", file=sys.stderr)
        return 2
    export = open_export(args.replay)
    platform = args.platform or export.platform
    if platform is None:
        print(f"kinetic: error: {args.replay} does not say its platform: give --platform ios|android", file=sys.stderr)
        return 2
    wearer = check_id(args.wearer)
    placement: Placement = "trunk" if args.placement == "trunk" else "thigh"
    print(
        f"replay {args.replay.name}: Sensor Logger export ({platform}, {', '.join(export.sensors)}) as wearer "
        f"{wearer}, {placement}",
        file=sys.stderr,
    )

    return _publish_until_done(
        settings,
        "replay",
        lambda: replay_export(
            export,
            wearer=wearer,
            device=f"{wearer}-phone",
            placement=placement,
            ios_axes=platform == "ios" and not args.standardised,
            mqtt=settings.mqtt,
            topics=Topics(settings.mqtt.topic_root),
            speed=speed,
            batch_s=settings.simulate.batch_s if args.batch_s is None else args.batch_s,
            seconds=args.seconds,
        ),
    )


def _simulate_ble(scenario: Scenario, settings: IngestConfig, speed: float, batch_s: int) -> int:
    from ingest.ble.simulate_ble import simulate_ble  # noqa: PLC0415 - Bumble is only needed for this mode

    if speed <= 0:
        print("kinetic: error: --ble needs --speed above 0 (every sample is emulated)", file=sys.stderr)
        return 2

    return _run_ble_simulation(
        lambda: simulate_ble(
            scenario,
            mqtt=settings.mqtt,
            topics=Topics(settings.mqtt.topic_root),
            speed=speed,
            batch_s=batch_s,
            queue_path=settings.collector.queue_path,
        )
    )


def _run_ble_simulation(start: Callable[[], Coroutine[Any, Any, BleSimulation]]) -> int:
    """Run a BLE simulation until it ends or a signal stops it; say what went through."""
    return _run_until_done(
        start,
        lambda result: (
            f"sent {result.samples_sent} samples over BLE; the collector made {result.counters.frames} frames"
        ),
    )


def _cmd_bridge(args: argparse.Namespace, settings: IngestConfig) -> int:
    client_id = f"{settings.mqtt.client_id_prefix}-bridge"

    async def job(stop: asyncio.Event) -> None:
        with (
            one_instance(settings.bridge.spool_path, "kinetic bridge", "KINETIC_BRIDGE__SPOOL_PATH"),
            only_client(settings.mqtt, client_id),
        ):
            await bridge_job(stop)

    async def bridge_job(stop: asyncio.Event) -> None:
        wall = make_wall(settings.store, settings.influx)
        sink = make_sink(settings.store, settings.influx, wall)
        await retry_until_reached(
            sink.prepare, _store_endpoint(settings), "bridge", retry_on=(SinkUnavailable,), stop=stop
        )
        spool = open_spool(settings.bridge)
        bridge = Bridge(
            topics=Topics(settings.mqtt.topic_root),
            sink=sink,
            spool=spool,
            settings=settings.bridge,
            max_ahead_ms=settings.clock.max_ahead_ms,
            store=_store_endpoint(settings),
            wall=wall,
        )
        settle_heap("bridge")  # start-up's objects out of the collector's walks (ingest/heap.py)
        try:
            await serve(bridge.run, settings.mqtt, client_id, stop, manual_ack=True)
        finally:
            spool.close()
            await sink.aclose()
            _LOGGER.info("bridge: stopped; %s, %d dead letters", bridge.counters, bridge.dead_letters.count)

    run_until_signal(job)
    return 0


def _store_endpoint(settings: IngestConfig) -> Endpoint:
    """The store the bridge waits for, as its lines name it (KINETIC_STORE__KIND picks which)."""
    if settings.store.kind == "embedded":
        return Endpoint("embedded store", str(settings.store.embedded_path), "KINETIC_STORE__EMBEDDED_PATH")
    return Endpoint("InfluxDB", settings.influx.url, "KINETIC_INFLUX__URL")


def _cmd_collect(args: argparse.Namespace, settings: IngestConfig) -> int:
    if not settings.collector.wearables:
        print(
            "kinetic: error: setting KINETIC_COLLECTOR__WEARABLES is empty: list the wearables in the TOML file "
            "([[collector.wearables]], see docs/collector.md)",
            file=sys.stderr,
        )
        return 2
    client_id = f"{settings.mqtt.client_id_prefix}-collector"
    with only_client(settings.mqtt, client_id):  # before the queue or the radio is opened
        return _collect(settings, client_id)


def _collect(settings: IngestConfig, client_id: str) -> int:
    from ingest.ble.collector import Collector  # noqa: PLC0415 - bleak is only needed by this command

    queue = Spool(settings.collector.queue_path, int(settings.collector.queue_max_mb * 1_000_000))
    collector = Collector(settings.collector, Topics(settings.mqtt.topic_root), queue)
    transport = settings.collector.bumble_transport

    async def job(stop: asyncio.Event) -> None:
        if transport:
            from ingest.ble.bumble_backend import HardwareRadio  # noqa: PLC0415

            radio = HardwareRadio(transport)
            await radio.start()  # a one-line error naming the setting when the transport cannot be opened
            collector.scanner_kwargs, collector.client_kwargs = radio.scanner_kwargs(), radio.client_kwargs()
        async with asyncio.TaskGroup() as group:
            group.create_task(collector.run(stop))
            group.create_task(serve(collector.forward, settings.mqtt, client_id, stop, will=collector.will()))

    run_until_signal(job)
    return 0


def _cmd_phone_token(args: argparse.Namespace, settings: IngestConfig) -> int:
    """``kinetic phone token add|list|revoke``: the token store the web app's Settings page also writes; adding and
    revoking are audit entries (ingest/audit.py)."""
    from ingest.audit import record_read  # noqa: PLC0415
    from ingest.phone.tokens import TokenStore, TokenStoreError  # noqa: PLC0415

    phone = settings.phone
    store = TokenStore(phone.tokens_path)
    try:
        if args.token_command == "add":
            token = store.add(
                args.wearer,
                args.device,
                args.platform,
                args.placement,
                standardised=not args.not_standardised,
            )
            record_read(settings.audit, "phone token added", args.wearer, args.device)
            host = phone.http_host if phone.http_host not in ("0.0.0.0", "::") else "<this host>"
            print(f"token (shown once): {token}")
            if phone.http_port:
                print(f"push URL: http://{host}:{phone.http_port}/sensorlogger/{args.wearer}?token={token}")
        elif args.token_command == "revoke":
            if not store.revoke(args.wearer, args.device):
                print(f"kinetic: error: wearer {args.wearer!r} has no phone {args.device!r}", file=sys.stderr)
                return 1
            record_read(settings.audit, "phone token revoked", args.wearer, args.device)
            print(f"revoked: {args.wearer} {args.device}")
        else:
            for d in store.devices(args.wearer):
                used = "never" if d.last_used_ms is None else _utc_text(d.last_used_ms)
                print(
                    f"{d.wearer}\t{d.device}\t{d.platform}\t{d.placement}\tcreated {_utc_text(d.created_ms)}"
                    f"\tlast used {used}"
                )
    except TokenStoreError as exc:
        print(f"kinetic: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _cmd_phone(args: argparse.Namespace, settings: IngestConfig) -> int:
    if getattr(args, "phone_command", None) == "token":
        return _cmd_phone_token(args, settings)
    phone = settings.phone
    if not phone.phones and not phone.tokens_path.is_file():
        print(
            "kinetic: error: setting KINETIC_PHONE__PHONES is empty and there is no token file "
            f"{phone.tokens_path}: list the phones in the TOML file ([[phone.phones]]) or add one on the web app's "
            "Settings page (see docs/phone.md)",
            file=sys.stderr,
        )
        return 2
    client_id = f"{settings.mqtt.client_id_prefix}-phone"
    with only_client(settings.mqtt, client_id):  # before the queue or the port is opened
        return _phone(settings, client_id)


def _phone(settings: IngestConfig, client_id: str) -> int:
    from ingest.phone.service import PhoneService  # noqa: PLC0415
    from ingest.phone.tokens import TokenStore  # noqa: PLC0415

    phone = settings.phone
    service = PhoneService(
        phone,
        Topics(settings.mqtt.topic_root),
        Spool(phone.queue_path, int(phone.queue_max_mb * 1_000_000)),
        tokens=TokenStore(phone.tokens_path),
    )

    async def job(stop: asyncio.Event) -> None:
        async with contextlib.AsyncExitStack() as stack:
            if phone.http_port:
                port = await stack.enter_async_context(service.http_server())
                scheme = "https" if phone.tls_cert is not None else "http"
                _LOGGER.info("phone: push endpoint on %s://%s:%d/sensorlogger/<wearer>", scheme, phone.http_host, port)
            await serve(service.forward, settings.mqtt, client_id, stop, will=service.will())
        _LOGGER.info("phone: stopped; %s", service.counters)

    run_until_signal(job)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, IngestConfig], int]] = {
    "simulate": _cmd_simulate,
    "bridge": _cmd_bridge,
    "collect": _cmd_collect,
    "phone": _cmd_phone,
    "store": _cmd_store,
}
