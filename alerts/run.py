"""``kinetic alerts``: the alert service with its adapters wired from settings: MQTT (persistent session, manual
acknowledgements after checkpoints), the state file, the HTTP channels and the callback server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from alerts.calendars import BusyRule, CalendarRefresher, FeedStore
from alerts.channels.base import Channel
from alerts.channels.callbacks import CALLBACK_TLS_SETTINGS, callback_server, make_app
from alerts.channels.dispatch import Dispatcher
from alerts.channels.http import NtfyChannel, WebhookChannel
from alerts.engine import AlertEngine, engine_from_settings, policy_book
from alerts.prompts.calendar import Busy
from alerts.prompts.prescription import PrescriptionsFile
from alerts.prompts.sessions import SessionVerifier
from alerts.service import AlertService
from alerts.settings import AlertsConfig, AlertsSettings
from alerts.shard import Shard, shard_client_id, shard_of
from alerts.state import AlertState, state_file
from ingest.errors import ConfigError
from ingest.heap import settle_heap
from ingest.listen import server_tls
from ingest.mqtt import only_client, serve
from ingest.process import one_instance
from ingest.wire import CommandV1, Topics, encode

_LOGGER = logging.getLogger(__name__)


def _secret(value: SecretStr | None) -> bytes | None:
    return value.get_secret_value().encode() if value is not None else None


def service_state_file(settings: AlertsSettings, topic_root: str, wearer: str | None = None) -> Path | None:
    """The alert service's state file (None without ``state_dir``: memory only): ``<root>.sqlite``
    (``alerts.state.state_file``); with ``shard`` INDEX/COUNT, ``<root>.shard-INDEX-of-COUNT.sqlite``, this shard's, or
    with ``wearer`` the file of the shard that owns that wearer (``kinetic data`` finds a wearer's state there)."""
    if settings.state_dir is None:
        return None
    path = state_file(settings.state_dir, topic_root)
    shard = settings.sharding
    if shard is None:
        return path
    index = shard.index if wearer is None else shard_of(wearer, shard.count)
    return path.with_name(f"{path.stem}.{Shard(index, shard.count).name}{path.suffix}")


def calendar_refresher(
    settings: AlertsSettings, engine: AlertEngine, state_dir: Path | None, session: aiohttp.ClientSession
) -> CalendarRefresher | None:
    """The wearers' calendar feeds of the settings (with ``shard``, of this shard's wearers), refreshed into
    ``engine.busy``; None when no wearer has one. The last good copies go under ``<state_dir>/calendars`` (none:
    memory only)."""
    shard = settings.sharding
    sources = {w: f for w, f in settings.calendar_feeds.items() if shard is None or shard.owns(w)}  # this shard's
    if not any(sources.values()):
        return None
    addresses = {w: frozenset(a) for w, a in settings.calendar_addresses.items()}

    def rule_of(wearer: str) -> BusyRule:
        zone = engine.policy(wearer).zone  # floating times are the wearer's, as their schedules
        return BusyRule(zone, addresses.get(wearer, frozenset()), settings.calendar_all_day)

    def on_busy(wearer: str, busy: list[Busy]) -> None:
        engine.busy[wearer] = busy

    feeds = {w: [f.get_secret_value().strip() for f in fs] for w, fs in sources.items()}
    store = FeedStore(None if state_dir is None else state_dir / "calendars")
    return CalendarRefresher(
        feeds, store, rule_of, on_busy, every_s=settings.calendar_refresh_min * 60, session=session
    )


def http_channels(
    settings: AlertsSettings,
    session: aiohttp.ClientSession,
    startable: Callable[[str, str], bool] | None = None,
) -> dict[str, Channel]:
    """The configured ntfy and webhook channels; ``startable(wearer, exercise)`` gives ntfy prompts a "Start" button
    when a session of the prompt's exercise would be taken (the alert service's ``SessionVerifier.startable``)."""
    channels: dict[str, Channel] = {}
    if settings.ntfy_url:
        token = settings.ntfy_token.get_secret_value() if settings.ntfy_token else None
        channels["ntfy"] = NtfyChannel(
            session,
            settings.ntfy_url,
            token=token,
            topic_prefix=settings.ntfy_topic_prefix,
            callback_base=settings.callback_url,
            callback_secret=_secret(settings.callback_secret),
            startable=startable,
        )
        if not (settings.callback_url and settings.callback_secret):
            _LOGGER.warning(
                "alerts: ntfy prompts go out without Done/Snooze buttons: set KINETIC_ALERTS__CALLBACK_URL and "
                "KINETIC_ALERTS__CALLBACK_SECRET"
            )
    if settings.webhook_url:
        channels["webhook"] = WebhookChannel(session, settings.webhook_url, _secret(settings.webhook_secret))
    return channels


async def ask_checkin(settings: AlertsSettings, wearer: str) -> None:
    """Send a wearer the check-in question on ntfy (``kinetic prompts ask``; a timer may run it each morning before
    ``readiness_time``), to the wearer's ntfy topic (their policy's ``ntfy_topic``, else prefix + wearer). Raises
    ConfigError without ntfy or the callback settings its buttons need, ChannelError when ntfy refuses it."""
    if not settings.ntfy_url:
        raise ConfigError("prompts ask: the check-in goes out on ntfy: set KINETIC_ALERTS__NTFY_URL")
    topic = policy_book(settings).for_wearer(wearer).ntfy_topic
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.channel_timeout_s)) as session:
        channel = http_channels(settings, session)["ntfy"]
        assert isinstance(channel, NtfyChannel)
        await channel.ask_checkin(wearer, topic)


@contextlib.asynccontextmanager
async def alert_service(settings: AlertsConfig) -> AsyncIterator[AlertService]:
    """The service with its state store and dispatcher; closes them on exit."""
    alerts = settings.alerts
    path = service_state_file(alerts, settings.mqtt.topic_root)
    state = AlertState(path) if path is not None else None
    timeout = aiohttp.ClientTimeout(total=alerts.channel_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        engine = engine_from_settings(alerts)
        catalog = {exercise.id: exercise for exercise in engine.catalog}
        # read again when it changes (kinetic prescription edits it while the service runs)
        prescriptions = PrescriptionsFile(alerts.prescriptions_file, catalog) if alerts.prescriptions_file else None
        service = AlertService(
            topics=Topics(settings.mqtt.topic_root),
            engine=engine,
            sessions=SessionVerifier(
                catalog,
                prescriptions.current() if prescriptions else None,
                reload=prescriptions.current if prescriptions else None,
            ),
            state=state,
            checkpoint_s=alerts.checkpoint_s,
            max_unacked=alerts.max_unacked,
            idle_checkpoint_s=alerts.idle_checkpoint_s,
            max_ahead_ms=settings.clock.max_ahead_ms,
            send_expired=alerts.send_expired_prompts,
            calendars=calendar_refresher(alerts, engine, alerts.state_dir, session),
            shard=alerts.sharding,
        )
        channels = http_channels(alerts, session, service.sessions.startable if service.sessions else None)
        service.dispatcher = Dispatcher(
            channels,
            service.delivery_result,
            concurrency=alerts.channel_concurrency,
            timeout_s=alerts.channel_timeout_s,
        )
        try:
            yield service
        finally:
            await service.dispatcher.close()
            if state is not None:
                state.close()


async def run_alerts(settings: AlertsConfig, stop: asyncio.Event) -> None:
    """``kinetic alerts`` until ``stop``: the only process of its MQTT client id on this host (``one_client``) and, with
    a state file, the only one of that file (``one_instance``): a second one stops in one line before it touches the
    state or the broker."""
    async with contextlib.AsyncExitStack() as stack:
        path = service_state_file(settings.alerts, settings.mqtt.topic_root)
        if path is not None:
            stack.enter_context(one_instance(path, "kinetic alerts", "KINETIC_ALERTS__STATE_DIR"))
        client_id = shard_client_id(settings.mqtt.client_id_prefix, settings.alerts.sharding)
        stack.enter_context(only_client(settings.mqtt, client_id))
        await _run_alerts(settings, stop)


async def _run_alerts(settings: AlertsConfig, stop: asyncio.Event) -> None:
    # a certificate file that cannot be loaded is one line at start, before anything connects
    tls = server_tls(settings.alerts.callback_tls_cert, settings.alerts.callback_tls_key, CALLBACK_TLS_SETTINGS)
    async with alert_service(settings) as service, contextlib.AsyncExitStack() as stack:
        secret = _secret(settings.alerts.callback_secret)
        if secret is not None:

            async def send(command: CommandV1) -> bool:
                client = service.client
                if client is None:
                    return False
                await client.publish(service.topics.commands(command.wearer), encode(command), qos=1)
                return True

            app = make_app(secret, send)
            a = settings.alerts
            port = await stack.enter_async_context(callback_server(app, a.callback_host, a.callback_port, tls))
            scheme = "https" if tls is not None else "http"
            _LOGGER.info("alerts: callback server on %s://%s:%d", scheme, a.callback_host, port)
        settle_heap("alerts")  # the restored states and start-up's objects out of the collector's walks
        await serve(
            service.run,
            settings.mqtt,
            shard_client_id(settings.mqtt.client_id_prefix, settings.alerts.sharding),
            stop,
            manual_ack=service.manual_ack,
        )
