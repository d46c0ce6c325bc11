"""The ``kinetic`` command: one subcommand per job. The composition root: the one place that builds real
adapters (MQTT clients, sinks) from settings and hands them to the services.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from alerts.catalog import load_catalog
from alerts.errors import AlertsError
from alerts.policy.model import PromptPolicy, merge
from alerts.run import run_alerts
from dashboards import cli as dashboards_cli
from ingest.backoff import backoff_delay_s
from ingest.bridge import Bridge
from ingest.config import KineticSettings, load_settings
from ingest.demo_view import DemoView
from ingest.errors import ConfigError, IngestError, SinkUnavailable
from ingest.evaluate import report
from ingest.evaluate.run import evaluate
from ingest.mqtt import connect, serve
from ingest.simulate.scenario import Scenario, load_scenario, parse_scenario
from ingest.simulate.service import simulate
from ingest.store import make_sink
from ingest.store.embedded import EmbeddedSink
from ingest.store.export import open_queries, write_export
from ingest.store.spool import Spool, open_spool
from ingest.wire import CommandV1, Topics, check_id, describe_validation_error, encode

if TYPE_CHECKING:
    from ingest.ble.simulate_ble import BleSimulation

_LOGGER = logging.getLogger("kinetic")

DESCRIPTION = """\
Kinetic: wearables -> MQTT -> InfluxDB -> posture alerts and micro-movement prompts.

Settings come from KINETIC_* environment variables (nested with __, e.g. KINETIC_MQTT__HOST), secret
files (KINETIC_SECRETS_DIR, default /run/secrets), and an optional TOML file (--config or
KINETIC_CONFIG). See docs/configuration.md; `kinetic config` prints the effective settings.
"""


def default_scenario() -> Scenario:
    text = resources.files("ingest.simulate").joinpath("scenarios/workday.yaml").read_text(encoding="utf-8")
    return parse_scenario(text, "workday.yaml (built in)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinetic", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, help="TOML settings file (overridden by KINETIC_* variables)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default: INFO")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="the whole pipeline on embedded defaults (no servers): simulated workday, live prompts, summary",
        description="Runs an in-process MQTT broker, the bridge into a SQLite file, the alert service and "
        "simulated wearers at accelerated time; shows prompts live and a per-wearer summary.",
    )
    demo.add_argument("--scenario", type=Path, help="scenario YAML (default: the built-in workday)")
    demo.add_argument(
        "--speed",
        type=float,
        default=2000.0,
        help="time acceleration (default 2000: an 8-hour day in about 15 s; 0 = flat out)",
    )
    demo.add_argument("--db", type=Path, help="SQLite file to keep (default: a temporary file)")
    demo.add_argument(
        "--ble",
        action="store_true",
        help="the wearers as emulated BLE sensors read by the real collector (every 52 Hz sample is emulated: "
        "use a short scenario and a speed of about 20)",
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON on stdout, nothing else")

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
        "through an emulated sensor at its own rate instead of a scenario",
    )
    sim.add_argument("--placement", choices=["thigh", "trunk", "wrist"], help="--replay: which sensor of the file")
    sim.add_argument("--wearer", default="replay", help="--replay: the wearer id to publish as (default: replay)")
    sim.add_argument("--seconds", type=float, help="--replay: only the first N seconds")

    sub.add_parser(
        "bridge",
        help="MQTT -> InfluxDB (v1 HTTP API: 1.x, or 2.4+/3.x with a token) or the embedded store",
        description="Stores feature frames, device status, prompts and events. QoS 1, persistent session, "
        "many points per write, retries an unreachable database, dead-letters bad messages.",
    )
    sub.add_parser(
        "alerts",
        help="posture, bouts and prompts per wearer, in event time, by each wearer's policy",
        description="Watches feature batches, tracks sitting and standing bouts and one-sided lean per wearer in "
        "event time and prompts by the wearer's policy (KINETIC_ALERTS__POLICY_FILE, docs/prompts.md) on MQTT, ntfy "
        "and a webhook; measures whether the wearer moved. Restart-safe with KINETIC_ALERTS__STATE_DIR.",
    )
    pr = sub.add_parser(
        "prompts",
        help="act on a wearer's prompts: done, snooze, pause, resume, policy; list the exercise catalog",
        description="Publishes a command on <root>/v1/<wearer>/commands for the alert service (the same path as "
        "ntfy's buttons). 'catalog' validates and lists the exercises, with clinicians' folders.",
    )
    pr_sub = pr.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    p_done = pr_sub.add_parser("done", help="the wearer did the prompt: no re-prompt for this bout")
    p_done.add_argument("wearer")
    p_done.add_argument("prompt_id")
    p_snooze = pr_sub.add_parser("snooze", help="remind again later if still sitting")
    p_snooze.add_argument("wearer")
    p_snooze.add_argument("prompt_id")
    p_snooze.add_argument("--minutes", type=float, help="default: the wearer's snooze_min (10)")
    p_pause = pr_sub.add_parser(
        "pause", help="do not disturb: prompts due meanwhile are held and sent after, if still relevant"
    )
    p_pause.add_argument("wearer")
    until = p_pause.add_mutually_exclusive_group()
    until.add_argument("--for", dest="for_min", type=float, metavar="MIN", help="for this many minutes")
    until.add_argument("--until", help="until this time (ISO 8601 with offset); neither: until 'resume'")
    p_resume = pr_sub.add_parser("resume", help="end a pause now")
    p_resume.add_argument("wearer")
    p_policy = pr_sub.add_parser(
        "policy",
        help="set live policy overrides: KEY=VALUE (YAML values; 'default' removes an override)",
        description="Example: kinetic prompts policy ann sitting_threshold_min=25 quiet_hours='[\"12:00-13:00\"]'. "
        "The keys are those of docs/prompts.md; they are checked here before sending.",
    )
    p_policy.add_argument("wearer")
    p_policy.add_argument("settings", nargs="+", metavar="KEY=VALUE")
    pr_sub.add_parser("catalog", help="validate and list the exercise catalog (KINETIC_ALERTS__CATALOG_DIRS)")
    data = sub.add_parser(
        "data",
        help="a wearer's data rights: export everything stored for one wearer, or delete it",
        description="Reads the store the settings name (KINETIC_STORE__KIND): InfluxDB through InfluxQL, or the "
        "embedded SQLite store.",
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    export = data_sub.add_parser("export", help="write CSV (one file per measurement) and/or JSON for one wearer")
    export.add_argument("wearer", help="wearer id")
    export.add_argument("--out", type=Path, default=Path("."), help="folder to write into (default: here)")
    export.add_argument("--format", choices=["csv", "json", "both"], default="both")
    delete = data_sub.add_parser("delete", help="delete everything stored for one wearer")
    delete.add_argument("wearer", help="wearer id")
    delete.add_argument("--yes", action="store_true", help="really delete (without it, only says what would go)")

    prune = data_sub.add_parser(
        "prune", help="embedded store: delete raw feature points older than N days (rollups and events stay)"
    )
    prune.add_argument("--raw-days", type=int, required=True, help="keep this many days of raw points")

    cal = sub.add_parser(
        "calibrate",
        help="tell the alert service a wearer stands still now for 5 s: their sensors' upright is taken from it",
        description="Publishes a calibrate command (kinetic/v1/<wearer>/commands) with the current time; the wearer "
        "should stand upright and still for 5 seconds. Without it, the upright is learned from walking.",
    )
    cal.add_argument("wearer")
    cal.add_argument("--device", help="only this sensor")

    ev = sub.add_parser(
        "evaluate",
        help="run the detection path on labelled recordings: per-class and bout-level results",
        description="Raw samples -> per-second features -> calibrated posture -> bouts, on dataset folders laid out "
        "like ../shared/data/* (README, labels.csv, recordings/*.csv.gz). How columns map to placements and units "
        "comes from kinetic-dataset.yaml in the folder or from ingest/evaluate/datasets/<folder name>.yaml.",
    )
    ev.add_argument("datasets", nargs="+", type=Path, metavar="DATASET_DIR")
    ev.add_argument("--placement", help="only this placement configuration (thigh, trunk, wrist, thigh+trunk)")
    out = ev.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="results as JSON")
    out.add_argument("--markdown", action="store_true", help="one summary table in Markdown (docs/evaluation.md)")

    sub.add_parser(
        "collect",
        help="read the configured BLE wearables (bleak) and publish per-second features over MQTT",
        description="Scans for, connects to and streams from the wearables in the collector settings "
        "([[collector.wearables]] in the TOML file; see docs/collector.md), with an on-disk store-and-forward queue.",
    )

    dashboards_cli.add_parsers(sub)

    cfg = sub.add_parser("config", help="print the effective settings (secrets masked) and exit")
    cfg.add_argument("--json", action="store_true", help="as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides: dict[str, Any] = {}
        if args.log_level:
            overrides["log_level"] = args.log_level
        elif args.command == "demo":
            overrides["log_level"] = "WARNING"  # the demo's terminal view shows what matters
        settings = load_settings(args.config, **overrides)
        logging.basicConfig(
            level=settings.log_level,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        command: Callable[[argparse.Namespace, KineticSettings], int] = _COMMANDS[args.command]
        return command(args, settings)
    except (IngestError, AlertsError) as exc:
        print(f"kinetic: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run_until_signal(factory: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run a service; SIGINT/SIGTERM set ``stop`` so it flushes and returns cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await factory(stop)

    asyncio.run(runner())


def _cmd_config(args: argparse.Namespace, settings: KineticSettings) -> int:
    data = settings.model_dump(mode="json")
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for section, values in data.items():
            if isinstance(values, dict):
                for key, value in values.items():
                    print(f"KINETIC_{section.upper()}__{key.upper()}={value}")
            else:
                print(f"KINETIC_{section.upper()}={values}")
    return 0


def _cmd_simulate(args: argparse.Namespace, settings: KineticSettings) -> int:

    if args.replay is not None:
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

    async def job(stop: asyncio.Event) -> None:
        task = asyncio.create_task(
            simulate(
                scenario,
                mqtt=settings.mqtt,
                topics=Topics(settings.mqtt.topic_root),
                speed=speed,
                batch_s=batch_s,
                progress=progress,
            )
        )
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if task in done:
            result = task.result()
            print(f"published {result.frames} frames in {result.batches} messages", file=sys.stderr)
        else:
            task.cancel()

    _run_until_signal(job)
    return 0


def _replay_ble(args: argparse.Namespace, settings: KineticSettings) -> int:
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
            start_ms=int(time.time() * 1000),
            batch_s=settings.simulate.batch_s,
        )
    )


def _simulate_ble(scenario: Scenario, settings: KineticSettings, speed: float, batch_s: int) -> int:
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

    async def job(stop: asyncio.Event) -> None:
        task = asyncio.create_task(start())
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if task in done:
            result = task.result()
            print(
                f"sent {result.samples_sent} samples over BLE; the collector made {result.counters.frames} frames",
                file=sys.stderr,
            )
        else:
            task.cancel()

    _run_until_signal(job)
    return 0


def _cmd_bridge(args: argparse.Namespace, settings: KineticSettings) -> int:

    async def job(stop: asyncio.Event) -> None:
        sink = make_sink(settings.store, settings.influx)
        await _retry_until_ready(sink.prepare, f"store {settings.store.kind} ({settings.influx.url})", stop)
        spool = open_spool(settings.bridge)
        bridge = Bridge(topics=Topics(settings.mqtt.topic_root), sink=sink, spool=spool, settings=settings.bridge)
        try:
            await serve(bridge.run, settings.mqtt, f"{settings.mqtt.client_id_prefix}-bridge", stop, manual_ack=True)
        finally:
            spool.close()
            await sink.aclose()
            _LOGGER.info("bridge: stopped; %s, %d dead letters", bridge.counters, bridge.dead_letters.count)

    _run_until_signal(job)
    return 0


async def _retry_until_ready(action: Callable[[], Awaitable[None]], what: str, stop: asyncio.Event) -> None:

    attempt = 0
    while not stop.is_set():
        try:
            await action()
            return
        except SinkUnavailable as exc:
            delay = backoff_delay_s(attempt)
            _LOGGER.warning("%s: not ready (%s), retrying in %.1fs", what, exc, delay)
            attempt += 1
            try:
                async with asyncio.timeout(delay):
                    await stop.wait()
            except TimeoutError:
                pass


def _cmd_alerts(args: argparse.Namespace, settings: KineticSettings) -> int:
    _run_until_signal(lambda stop: run_alerts(settings, stop))
    return 0


def _cmd_demo(args: argparse.Namespace, settings: KineticSettings) -> int:

    scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
    if args.speed < 0:
        print("kinetic: error: --speed must be >= 0 (0 = as fast as possible)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kinetic-demo-") as tmp:
        db_path = args.db or Path(tmp) / "kinetic-demo.sqlite"
        view = DemoView(scenario, quiet=args.json)
        if args.ble and not 0 < args.speed <= 100:
            print("kinetic: error: --ble needs --speed between 0 and 100 (every sample is emulated)", file=sys.stderr)
            return 2
        summary = view.run(settings, db_path=db_path, speed=args.speed, ble=args.ble)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    return 0


def _cmd_data(args: argparse.Namespace, settings: KineticSettings) -> int:
    if args.data_command == "prune":
        return _prune(args.raw_days, settings)
    wearer = check_id(args.wearer)

    async def job() -> int:
        queries, close = open_queries(settings)
        try:
            rows = await queries.export(wearer)
            total = sum(len(v) for v in rows.values())
            if args.data_command == "export":
                files = write_export(rows, wearer, args.out, args.format)
                print(f"exported {total} rows for {wearer}: {', '.join(str(f) for f in files)}", file=sys.stderr)
                return 0
            if not args.yes:
                print(
                    f"would delete {total} rows for {wearer} ({', '.join(f'{k}: {len(v)}' for k, v in rows.items())}"
                    "); add --yes to delete",
                    file=sys.stderr,
                )
                return 1
            await queries.delete(wearer)
            left = sum(len(v) for v in (await queries.export(wearer)).values())
            print(f"deleted {total - left} rows for {wearer}; {left} left", file=sys.stderr)
            return 0 if left == 0 else 1
        finally:
            await close()

    return asyncio.run(job())


def _prune(raw_days: int, settings: KineticSettings) -> int:
    if settings.store.kind != "embedded":
        print(
            "kinetic: error: prune is for the embedded store; InfluxDB 1.x expires raw points by itself with "
            "KINETIC_INFLUX__RAW_RETENTION_DAYS, 2.x by the bucket's retention",
            file=sys.stderr,
        )
        return 2
    if raw_days < 1:
        print("kinetic: error: --raw-days must be at least 1", file=sys.stderr)
        return 2
    sink = EmbeddedSink(settings.store.embedded_path)
    removed = sink.prune(raw_days, int(time.time() * 1000))
    asyncio.run(sink.aclose())
    print(
        f"pruned {removed} raw points older than {raw_days} days from {settings.store.embedded_path}", file=sys.stderr
    )
    return 0


def _send_command(settings: KineticSettings, command: CommandV1) -> None:
    topics = Topics(settings.mqtt.topic_root)

    async def job() -> None:
        async with connect(settings.mqtt, f"{settings.mqtt.client_id_prefix}-cli", max_attempts=3) as client:
            await client.publish(topics.commands(command.wearer), encode(command), qos=1)

    asyncio.run(job())


def _policy_overrides(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"policy setting {pair!r} must look like KEY=VALUE")
        try:
            out[key] = yaml.safe_load(raw) if raw != "default" else "default"
        except yaml.YAMLError as exc:
            raise ConfigError(f"policy setting {key}: value {raw!r} is not valid YAML ({exc})") from exc
    check = {k: v for k, v in out.items() if v != "default"}
    merge(PromptPolicy(), check, "kinetic prompts policy")  # one line naming the bad key, before anything is sent
    return out


def _cmd_prompts(args: argparse.Namespace, settings: KineticSettings) -> int:
    if args.prompts_command == "catalog":
        for exercise in load_catalog(settings.alerts.catalog_dirs):
            print(
                f"{exercise.id:32} {exercise.duration_s:4d} s  {','.join(exercise.triggers):16} "
                f"{','.join(exercise.day_types):16} {exercise.title}"
            )
        return 0
    now = datetime.now(UTC)
    wearer = check_id(args.wearer)
    kind = {"done": "ack"}.get(args.prompts_command, args.prompts_command)
    fields: dict[str, Any] = {"source": "cli"}
    if kind in ("ack", "snooze"):
        fields["prompt_id"] = args.prompt_id
    if kind == "snooze":
        fields["minutes"] = args.minutes
    if kind == "pause":
        if args.for_min is not None:
            fields["until"] = now + timedelta(minutes=args.for_min)
        elif args.until is not None:
            try:
                fields["until"] = datetime.fromisoformat(args.until)
            except ValueError as exc:
                raise ConfigError(f"--until {args.until!r}: {exc}") from exc
    if kind == "policy":
        fields["settings"] = _policy_overrides(args.settings)
    try:
        command = CommandV1(kind=kind, wearer=wearer, at=now, **fields)
    except ValidationError as exc:
        raise ConfigError(f"prompts {args.prompts_command}: {describe_validation_error(exc)}") from exc
    _send_command(settings, command)
    print(
        f"{args.prompts_command} sent for {wearer} ({settings.mqtt.topic_root}/v1/{wearer}/commands)", file=sys.stderr
    )
    return 0


def _cmd_calibrate(args: argparse.Namespace, settings: KineticSettings) -> int:
    command = CommandV1(
        kind="calibrate",
        wearer=check_id(args.wearer),
        at=datetime.now(UTC),
        device=check_id(args.device) if args.device else None,
    )
    _send_command(settings, command)
    print(
        f"calibration asked for {command.wearer} at {command.at.isoformat()}: stand upright and still for 5 s",
        file=sys.stderr,
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace, settings: KineticSettings) -> int:
    results: dict[str, list[dict[str, Any]]] = {}
    for folder in args.datasets:
        print(f"evaluate {folder}: reading and classifying ...", file=sys.stderr)
        try:
            results[folder.resolve().name] = evaluate(folder, args.placement)
        except ValueError as exc:
            print(f"kinetic: error: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(results, indent=2))
    elif args.markdown:
        print(report.markdown(results), end="")
    else:
        print("\n\n".join(report.text(name, r) for name, r in results.items()))
    return 0


def _cmd_collect(args: argparse.Namespace, settings: KineticSettings) -> int:
    from ingest.ble.collector import Collector  # noqa: PLC0415 - bleak is only needed by this command

    if not settings.collector.wearables:
        print(
            "kinetic: error: setting KINETIC_COLLECTOR__WEARABLES is empty: list the wearables in the TOML file "
            "([[collector.wearables]], see docs/collector.md)",
            file=sys.stderr,
        )
        return 2
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
            group.create_task(
                serve(
                    collector.forward,
                    settings.mqtt,
                    f"{settings.mqtt.client_id_prefix}-collector",
                    stop,
                    will=collector.will(),
                )
            )

    _run_until_signal(job)
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, KineticSettings], int]] = {
    "collect": _cmd_collect,
    "evaluate": _cmd_evaluate,
    "calibrate": _cmd_calibrate,
    "prompts": _cmd_prompts,
    "data": _cmd_data,
    "config": _cmd_config,
    "simulate": _cmd_simulate,
    "bridge": _cmd_bridge,
    "alerts": _cmd_alerts,
    "demo": _cmd_demo,
    "report": dashboards_cli.cmd_report,
    "dashboards": dashboards_cli.cmd_dashboards,
}


if __name__ == "__main__":
    raise SystemExit(main())
