"""``kinetic serve``: the web app (uvicorn) and its MQTT link in one task group, until ``stop``.

The MQTT side (clean session: the live state is rebuilt from what comes next and the store holds the rest) reads events,
prompts and commands (QoS 1), device status and the policy in force (retained) and feature batches (QoS 0: their times
are the wearer's clock, their lean the live lean), folds them into the ``LiveBoard`` and wakes the pages that show that
wearer. A message it cannot take is counted, logged and dead-lettered (``<root>/v1/_deadletter/web``); the loop goes on.
The buttons' commands go out on the same connection (``<root>/v1/<wearer>/commands``, QoS 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import aiomqtt
import uvicorn

from alerts.engine import policy_book
from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import PrescriptionsFile
from dashboards.web.app import LiveHub, WebState, build_app
from dashboards.web.consent import ClinicScope, ConsentAccess, wall_take_back
from dashboards.web.live import LiveBoard
from dashboards.web.logins import Logins, LoginsFileError
from dashboards.web.settings import WebConfig, WebSettings, is_loopback
from ingest.audit import AuditLog, default_actor
from ingest.clinics import load_clinics
from ingest.consent import ConsentLedger
from ingest.errors import ConfigError, IngestError, WireError
from ingest.listen import bind_socket, server_tls
from ingest.mqtt import DeadLetters, MqttClient, Publisher, message_batches, payload_bytes, serve
from ingest.phone.tokens import TokenStore
from ingest.settings import InfluxSettings
from ingest.store.export import open_queries, open_wearer_queries
from ingest.store.queries import Queries
from ingest.wall import database_name
from ingest.wire import (
    CommandV1,
    EventV1,
    FeatureBatchV1,
    Topics,
    decode,
    encode,
    frames_not_ahead,
    retained_command_problem,
)

_LOGGER = logging.getLogger(__name__)

SERVICE = "web"
WEB_ADDRESS_SETTINGS = "KINETIC_WEB__PORT / KINETIC_WEB__HOST"
WEB_TLS_SETTINGS = "KINETIC_WEB__TLS_CERT / KINETIC_WEB__TLS_KEY"
# How long a button waits for the broker's PUBACK: a page must answer within seconds, not after aiomqtt's default
# (the connect timeout, 10 s) or never (a broker that froze with the connection open).
COMMAND_TIMEOUT_S = 3.0
Clock = Callable[[], float]


def check_bind(web: WebSettings) -> None:
    """Refuse to listen beyond loopback without a token or logins (the pages show health data and act for the
    wearer), and a token beside a logins file (one way to log in: which one a browser needs must be plain)."""
    if web.token is not None and web.logins_path is not None:
        raise ConfigError(
            "settings KINETIC_WEB__TOKEN and KINETIC_WEB__LOGINS_PATH are both set: set one (the logins file gives "
            "each person their own login; the token is one password for all)"
        )
    if not is_loopback(web.host) and web.token is None and web.logins_path is None:
        raise ConfigError(
            f"setting KINETIC_WEB__HOST={web.host!r} is not a loopback address: set KINETIC_WEB__TOKEN (16 characters "
            "or more) so that only people with it can see and act, or keep the default 127.0.0.1"
        )


def open_logins(web: WebSettings) -> Logins | None:
    """The per-person logins of ``KINETIC_WEB__LOGINS_PATH`` (None without it). Raises LoginsFileError (one line
    naming the file, the entry and what is expected) for a file that cannot be read or has a bad entry, and for a
    file without any login (nobody could log in)."""
    if web.logins_path is None:
        return None
    logins = Logins(web.logins_path)
    logins.check()
    if not logins.all():
        raise LoginsFileError(
            f"logins file {web.logins_path} has no login: add one with `kinetic web-login add WEARER` "
            "(or deploy/make_secrets.py --wearer WEARER)"
        )
    return logins


@dataclass
class WebCounters:
    messages: int = 0
    commands_sent: int = 0


class WebLink:
    """The web app's MQTT side: folds what comes into the live board, sends the buttons' commands."""

    def __init__(
        self, *, topics: Topics, board: LiveBoard, hub: LiveHub, max_ahead_ms: int | None, clock: Clock = time.time
    ) -> None:
        self.topics = topics
        self.board = board
        self.hub = hub
        self.max_ahead_ms = max_ahead_ms
        self.clock = clock
        self.dead_letters = DeadLetters(SERVICE, topics)
        self.counters = WebCounters()
        self.ready = asyncio.Event()
        self._client: MqttClient | None = None

    async def run(self, client: MqttClient, stop: asyncio.Event) -> None:
        t = self.topics
        for topic_filter in (
            t.all_events(),
            t.all_prompts(),
            t.all_commands(),
            t.all_erasure(),
            t.all_status(),
            t.all_policies(),
        ):
            await client.subscribe(topic_filter, qos=1)
        await client.subscribe(t.all_features(), qos=0)
        self._client = client
        self.ready.set()
        _LOGGER.info("%s: following %s", SERVICE, t.base)
        consume = asyncio.create_task(self._consume(client), name=f"{SERVICE}-consume")
        stopped = asyncio.create_task(stop.wait(), name=f"{SERVICE}-stop")
        try:
            done, _ = await asyncio.wait({consume, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self._client = None
            self.ready.clear()
            for task in (consume, stopped):
                task.cancel()
            await asyncio.gather(consume, stopped, return_exceptions=True)

    async def _consume(self, client: MqttClient) -> None:
        async for batch in message_batches(client):
            for message in batch:
                await self.handle(client, str(message.topic), payload_bytes(message), message.retain)

    async def handle(self, publisher: Publisher, topic: str, payload: bytes, retained: bool = False) -> None:
        """One message from the broker; what it refuses is dead-lettered with the reason, never raised."""
        self.counters.messages += 1
        if not payload:  # a retained message cleared (kinetic data delete)
            return
        try:
            _, message = decode(self.topics, topic, payload)
            if isinstance(message, CommandV1) and retained:
                raise WireError(retained_command_problem())
            if isinstance(message, FeatureBatchV1):
                kept, reason = frames_not_ahead(message.frames, int(self.clock() * 1000), self.max_ahead_ms)
                if reason is not None:
                    if not kept:
                        raise WireError(reason)
                    message = message.model_copy(update={"frames": kept})
            wearer = self.board.feed(message)
            if wearer is not None:
                self.hub.notify(wearer)
        except WireError as exc:
            await self.dead_letters.send(publisher, topic, payload, str(exc))
        except Exception as exc:  # a bug the data found: this message is set aside, the app goes on
            _LOGGER.exception("%s %s: handling failed, dead-lettered", SERVICE, topic)
            await self.dead_letters.send(publisher, topic, payload, f"internal error: {exc!r}"[:500])

    async def publish(self, command: CommandV1) -> None:
        """Send a command to the alert service (QoS 1, confirmed by the broker within COMMAND_TIMEOUT_S).

        Raises IngestError (one line naming the command and what to do) while the broker is not connected, when the
        publication fails, or when the broker does not confirm it in time: the caller tells the person it was not
        confirmed, never that it was sent."""
        client = self._client
        if client is None:
            raise IngestError(
                f"{command.kind}: the MQTT broker is not connected right now: nothing was sent, try again"
            )
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT_S):
                await client.publish(self.topics.commands(command.wearer), encode(command), qos=1, timeout=math.inf)
        except TimeoutError:
            raise IngestError(
                f"{command.kind}: not confirmed by the MQTT broker within {COMMAND_TIMEOUT_S:.0f} s: it may not "
                "reach the alert service; check the page and try again when the broker answers"
            ) from None
        except aiomqtt.MqttError as exc:
            raise IngestError(
                f"{command.kind}: not confirmed by the MQTT broker ({exc}): nothing was sent, try again"
            ) from None
        self.counters.commands_sent += 1

    async def publish_event(self, event: EventV1) -> None:
        """Send an event (a consent change from the Sharing page: on the wearer's consent topic, ``Topics.event_topic``)
        QoS 1; IngestError while the broker is not reached."""
        client = self._client
        if client is None:
            raise IngestError("the MQTT broker is not connected right now: try again in a moment")
        await client.publish(self.topics.event_topic(event), encode(event), qos=1)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the process's SIGINT/SIGTERM set ``stop`` (ingest.process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def clinic_scope(settings: WebConfig, ledger: ConsentLedger) -> tuple[ClinicScope | None, InfluxSettings]:
    """With ``KINETIC_WEB__CLINIC``: the clinic's view and the store settings it reads with (the clinic's database;
    the credential is the configured one, the clinic's read-only user). Raises ConfigError without the wall or for a
    clinic the clinics file does not know. Without: (None, the store settings as they are)."""
    clinic = settings.web.clinic
    if clinic is None:
        return None, settings.influx
    if not settings.store.clinic_wall or ledger.clinics is None:
        raise ConfigError(
            f"setting KINETIC_WEB__CLINIC={clinic!r} needs the wall between clinics (KINETIC_STORE__CLINIC_WALL=true "
            "and KINETIC_STORE__CLINICS_FILE): a clinic's view reads the clinic's own database, nothing else"
        )
    ledger.clinics.clinic(clinic)  # ConfigError naming the clinics there are
    database = database_name(settings.influx.database, clinic)
    return ClinicScope(clinic, ledger.clinics, ledger), settings.influx.model_copy(update={"database": database})


async def run_web(
    settings: WebConfig,
    stop: asyncio.Event,
    *,
    on_listening: Callable[[str], None] | None = None,
    queries: Queries | None = None,
    max_ahead_ms: int | None = -1,
) -> None:
    """``kinetic serve`` until ``stop``: the pages on ``settings.web.host:port`` (HTTPS with ``KINETIC_WEB__TLS_CERT``
    and ``KINETIC_WEB__TLS_KEY``) over the configured store and the MQTT broker of ``settings.mqtt``.
    ``on_listening`` gets the URL (https:// with TLS) once the socket listens. ``queries`` replaces the store's (the
    demo passes its own); ``max_ahead_ms`` (default: the clock setting) None for a replayed day. Raises ConfigError
    (one line naming the settings) for certificate files that cannot be loaded, before anything listens."""
    check_bind(settings.web)
    tls = server_tls(settings.web.tls_cert, settings.web.tls_key, WEB_TLS_SETTINGS)  # one line at start, not later
    logins = open_logins(settings.web)
    ledger = ConsentLedger(
        settings.store.consent_path, load_clinics(settings.store.clinics_file) if settings.store.clinics_file else None
    )
    scope, influx = clinic_scope(settings, ledger)
    close = None
    if queries is None:  # a clinic's view reads its database; the wearer's own, wherever their data is (the wall)
        queries, close = (open_queries if scope is not None else open_wearer_queries)(settings.store, influx)
    topics = Topics(settings.mqtt.topic_root)
    board = LiveBoard(policy_book(settings.alerts))
    hub = LiveHub()
    link = WebLink(
        topics=topics,
        board=board,
        hub=hub,
        max_ahead_ms=settings.clock.max_ahead_ms if max_ahead_ms == -1 else max_ahead_ms,
    )
    token = settings.web.token.get_secret_value() if settings.web.token else None
    take_back = wall_take_back(settings.store, settings.influx, ledger) if scope is None else None
    sock = bind_socket(settings.web.host, settings.web.port, WEB_ADDRESS_SETTINGS)
    # the audit trail's one writer for the server's life (every read of a wearer's data is an entry)
    try:
        audit = AuditLog(settings.audit.path, settings.audit.retention_days)
    except (OSError, sqlite3.Error) as exc:
        sock.close()
        raise ConfigError(
            f"the audit trail {settings.audit.path} cannot be opened ({exc}): "
            "set KINETIC_AUDIT__PATH to a writable file"
        ) from None
    catalog = {e.id: e for e in load_catalog(settings.alerts.catalog_dirs)}  # for the guided session page
    prescribed = settings.alerts.prescriptions_file
    state = WebState(
        queries=queries,
        board=board,
        publish=link.publish,
        hub=hub,
        token=token,
        logins=logins,
        audit=audit,
        actor=settings.audit.actor or default_actor(),
        tokens=TokenStore(settings.phone.tokens_path),
        push_host=settings.phone.http_host,
        push_port=settings.phone.http_port,
        consent=None if scope is not None else ConsentAccess(ledger, link.publish_event, take_back),
        scope=scope,
        catalog=catalog,
        prescriptions=PrescriptionsFile(prescribed, catalog).current if prescribed else None,
        prescriptions_path=prescribed,
        publish_event=link.publish_event,
    )
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    # a browser's open live stream would hold a graceful shutdown forever: the streams end on ``closing``, and
    # what is still open after 3 s is closed
    config = uvicorn.Config(
        build_app(state),
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=3,
        # HTTPS with the context loaded (and checked) above: TLS 1.2 or later, as the other servers
        ssl_context_factory=None if tls is None else lambda _config, _default: tls,
    )
    server = _Server(config)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(
                serve(link.run, settings.mqtt, f"{settings.mqtt.client_id_prefix}-web", stop, clean_session=True),
                name=f"{SERVICE}-mqtt",
            )
            http = group.create_task(server.serve(sockets=[sock]), name=f"{SERVICE}-http")
            while not server.started and not http.done():
                await asyncio.sleep(0.02)
            url = f"{'https' if tls is not None else 'http'}://{shown}:{port}/"
            _LOGGER.info("%s: listening on %s", SERVICE, url)
            if on_listening is not None:
                on_listening(url)
            await stop.wait()
            state.closing.set()
            server.should_exit = True
    finally:
        sock.close()
        audit.close()
        if close is not None:
            await close()
