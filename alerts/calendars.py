"""Calendar feeds, fetched (issue 17): the thin adapter around ``alerts.prompts.calendar``.

A wearer's feed is an iCalendar address (the secret ICS address Google Calendar, Outlook and Nextcloud publish) or a
file. Each refresh asks with HTTP caching (``If-None-Match`` with the last ``ETag``, ``If-Modified-Since`` with the
last ``Last-Modified``): a ``304 Not Modified`` costs no download. A copy is taken only once it parses as
iCalendar, and the **last good copy** is kept, on disk, through a feed that is down, answers an error or sends
something that is no calendar (only what the busy rules read: ``minimal_calendar``, no titles, places or people):
prompts keep following the meetings Kinetic last knew of, and the refresh says what went wrong;
``CalendarRefresher`` (a task of the alert service) schedules the refreshes, logs each kind of problem once and
counts them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from alerts.prompts.calendar import (
    MAX_CALENDAR_BYTES,
    Busy,
    CalendarError,
    busy_intervals,
    busy_of,
    merge_busy,
    minimal_calendar,
    read_calendar,
)
from ingest.store.private import private_file

_LOGGER = logging.getLogger(__name__)
TIMEOUT_S = 20.0


@dataclass
class FeedCopy:
    """The last good copy of one feed and what its server said about it."""

    body: bytes  # the feed reduced to what the busy rules read (``minimal_calendar``): no titles, places, people
    etag: str | None = None
    last_modified: str | None = None
    fetched: str = ""  # ISO time of the last good copy
    digest: str = ""  # SHA-256 of the feed as it came (a file feed unchanged is not read again)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class RefreshResult:
    changed: bool
    problem: str | None = None  # why the feed could not be refreshed (the last good copy stays)
    busy: list[Busy] | None = None  # the busy intervals of the copy in force; None: no copy Kinetic can read
    kind: str | None = (
        None  # the problem's kind, for logging once per kind: unreachable, refused, malformed, unreadable
    )


def _kind(exc: BaseException) -> str:
    if isinstance(exc, CalendarError):
        return "malformed"
    if isinstance(exc, _FeedError):
        return "refused"  # an HTTP error status, or too big
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        return "unreachable"
    return "unreadable"  # a file feed that is gone or not readable


@dataclass
class FeedStore:
    """Last good copies on disk, one JSON file per feed in ``folder`` (mode 600: a feed's address is a secret and its
    body a person's diary)."""

    folder: Path | None  # None: in memory only (an alert service without a state folder)
    copies: dict[str, FeedCopy] = field(default_factory=dict)

    def _path(self, name: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{name}.json"

    def get(self, name: str) -> FeedCopy | None:
        if name not in self.copies and self.folder is not None and self._path(name).is_file():
            try:
                data = json.loads(self._path(name).read_text())
                self.copies[name] = FeedCopy(
                    data["body"].encode(),
                    data.get("etag"),
                    data.get("last_modified"),
                    data["fetched"],
                    data.get("digest", ""),
                )
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                _LOGGER.warning(
                    "calendar %s: the kept copy %s is unreadable (%s); fetching afresh", name, self._path(name), exc
                )
                return None
        return self.copies.get(name)

    def drop(self, name: str) -> None:
        """Forget a feed's copy, in memory and on disk."""
        self.copies.pop(name, None)
        if self.folder is not None:
            self._path(name).unlink(missing_ok=True)

    def put(self, name: str, copy: FeedCopy) -> None:
        self.copies[name] = copy
        if self.folder is None:
            return
        record = {
            "body": copy.body.decode("utf-8", "replace"),
            "etag": copy.etag,
            "last_modified": copy.last_modified,
            "digest": copy.digest,
        }
        path = private_file(self._path(name))
        tmp = private_file(path.with_suffix(".tmp"))
        tmp.write_text(json.dumps({**record, "fetched": copy.fetched}))
        tmp.replace(path)


@dataclass(frozen=True, slots=True)
class BusyRule:
    """How a wearer's feeds are read (alerts.prompts.calendar.busy_intervals): their zone for floating times, their
    own addresses for declined invitations, whether all-day events count."""

    zone: ZoneInfo
    addresses: frozenset[str] = frozenset()
    all_day: bool = False


def busy_span(now: datetime) -> tuple[datetime, datetime]:
    """The span whose busy time a refresh computes: from a day before ``now`` to two days after (a meeting that
    began yesterday evening still holds; the next refresh comes long before the span runs out)."""
    return now - timedelta(days=1), now + timedelta(days=2)


def _busy(body: bytes, span: tuple[datetime, datetime], rule: BusyRule) -> list[Busy]:
    return busy_intervals(body, span[0], span[1], rule.zone, addresses=rule.addresses, all_day=rule.all_day)


def _read(body: bytes, span: tuple[datetime, datetime], rule: BusyRule) -> tuple[list[Busy], bytes]:
    """A new copy, parsed once: its busy intervals over ``span`` and the minimal calendar to keep."""
    calendar = read_calendar(body)
    busy = busy_of(calendar, span[0], span[1], rule.zone, addresses=rule.addresses, all_day=rule.all_day)
    return busy, minimal_calendar(calendar, rule.addresses)


async def refresh(
    session: aiohttp.ClientSession,
    name: str,
    source: str,
    store: FeedStore,
    zone: ZoneInfo | BusyRule,
    span: tuple[datetime, datetime] | None = None,
) -> RefreshResult:
    """Fetch feed ``name`` from ``source`` (an ``http(s)://`` address or a file path) and keep it if it is a
    calendar. Never raises for the feed's faults: the result says what went wrong and the last good copy stays.

    The feed is parsed once, in a worker thread (a 5 MB feed takes seconds): that parse both checks a new copy and
    gives ``busy``, the busy intervals over ``span`` (default ``busy_span`` of now) of the copy in force afterwards
    (the new one, else the last good one; None when there is none or it no longer parses)."""
    rule = zone if isinstance(zone, BusyRule) else BusyRule(zone)
    span = span or busy_span(datetime.now(UTC))
    had = await asyncio.to_thread(store.get, name)  # a first read comes from disk (up to 5 MB)
    try:
        if source.startswith(("http://", "https://")):
            body, etag, modified = await _fetch(session, source, had)
        else:
            body, etag, modified = await asyncio.to_thread(_read_file, Path(source)), None, None
            if had is not None and had.digest == _digest(body):
                body = None
        if body is None:  # unchanged (a 304, or the same file): the kept copy over the span
            assert had is not None
            return RefreshResult(changed=False, busy=await _kept_busy(name, had, span, rule))
        busy, minimal = await asyncio.to_thread(_read, body, span, rule)
    except (aiohttp.ClientError, TimeoutError, OSError, CalendarError, _FeedError) as exc:
        problem = f"calendar {name}: {exc if str(exc) else type(exc).__name__}"
        kept = f"; the copy of {had.fetched} is kept" if had is not None else "; no earlier copy"
        kept_busy = None if had is None else await _kept_busy(name, had, span, rule)
        return RefreshResult(changed=False, problem=problem + kept, busy=kept_busy, kind=_kind(exc))
    copy = FeedCopy(minimal, etag, modified, datetime.now(UTC).isoformat(timespec="seconds"), _digest(body))
    await asyncio.to_thread(store.put, name, copy)
    return RefreshResult(changed=True, busy=busy)


async def _kept_busy(name: str, had: FeedCopy, span: tuple[datetime, datetime], rule: BusyRule) -> list[Busy] | None:
    try:
        return await asyncio.to_thread(_busy, had.body, span, rule)
    except CalendarError as exc:  # a copy kept by an older Kinetic that this one reads differently
        _LOGGER.warning("calendar %s: the kept copy no longer reads as a calendar (%s)", name, exc)
        return None


class _FeedError(Exception):
    pass


async def _fetch(
    session: aiohttp.ClientSession, url: str, had: FeedCopy | None
) -> tuple[bytes | None, str | None, str | None]:
    headers = {"Accept": "text/calendar"}
    if had is not None and had.etag:
        headers["If-None-Match"] = had.etag
    if had is not None and had.last_modified:
        headers["If-Modified-Since"] = had.last_modified
    async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as answer:
        if answer.status == 304 and had is not None:
            return None, had.etag, had.last_modified
        if answer.status != 200:
            raise _FeedError(f"HTTP {answer.status} from the feed's address")
        body = await answer.content.read(MAX_CALENDAR_BYTES + 1)
        if len(body) > MAX_CALENDAR_BYTES:
            raise _FeedError(f"more than {MAX_CALENDAR_BYTES} bytes")
        return body, answer.headers.get("ETag"), answer.headers.get("Last-Modified")


def _read_file(path: Path) -> bytes:
    with path.open("rb") as handle:
        body = handle.read(MAX_CALENDAR_BYTES + 1)
    if len(body) > MAX_CALENDAR_BYTES:
        raise _FeedError(f"{path} is more than {MAX_CALENDAR_BYTES} bytes")
    return body


def feed_name(wearer: str, source: str) -> str:
    """The name a feed's last good copy is kept under: the wearer and a digest of its address (the address is a
    secret: it appears in no file name and no log line), so reordering a wearer's feeds keeps their copies."""
    return f"{wearer}-{hashlib.sha256(source.encode()).hexdigest()[:12]}"


class CalendarRefresher:
    """Every wearer's calendar feeds, refreshed every ``every_s`` (host clock) into their busy time.

    Each round refreshes each feed (``refresh``: cached HTTP, parsed once in a worker thread, last good copy kept),
    merges the busy intervals of a wearer's feeds over ``busy_span`` of now and hands them to ``on_busy(wearer,
    intervals)`` (the alert service sets ``AlertEngine.busy``). A feed's problem is logged once per kind (unreachable,
    refused, malformed, unreadable) until it recovers, and every failed refresh is counted (``problems``, and
    ``problem_kinds`` by kind); a wearer whose feeds all fail keeps the busy time of their last good copies."""

    def __init__(
        self,
        feeds: Mapping[str, Sequence[str]],
        store: FeedStore,
        rule_of: Callable[[str], BusyRule],
        on_busy: Callable[[str, list[Busy]], None],
        *,
        every_s: float,
        session: aiohttp.ClientSession,
    ) -> None:
        self.feeds = {wearer: tuple(sources) for wearer, sources in feeds.items() if sources}
        self.store = store
        self.rule_of = rule_of
        self.on_busy = on_busy
        self.every_s = every_s
        self.session = session
        self.loaded = False  # the kept copies were read (load_kept)
        self.rounds = 0
        self.refreshes = 0
        self.problems = 0
        self.problem_kinds: Counter[str] = Counter()
        self._reported: dict[str, str] = {}  # feed name -> the kind of problem logged for it
        self._next_round: float | None = None  # event loop time of the next round (None: now)

    async def load_kept(self, now: datetime | None = None) -> None:
        """Every wearer's busy time from the last good copies alone (no network): what the service knows before its
        first message after a start, so messages replayed after a restart meet the meetings they met before (a
        prompt decided at another time would be another prompt: sent twice)."""
        span = busy_span(now or datetime.now(UTC))
        for wearer, sources in self.feeds.items():
            rule = self.rule_of(wearer)
            found: list[list[Busy]] = []
            for source in sources:
                name = feed_name(wearer, source)
                kept = await asyncio.to_thread(self.store.get, name)
                busy = None if kept is None else await _kept_busy(name, kept, span, rule)
                if busy is not None:
                    found.append(busy)
            self.on_busy(wearer, merge_busy(found))
        self.loaded = True

    def forget(self, wearer: str) -> None:
        """``kinetic data delete``: the wearer's kept copies go (the next round fetches their feeds again while the
        settings still name them: the operator removes those)."""
        for source in self.feeds.get(wearer, ()):
            self.store.drop(feed_name(wearer, source))

    async def refresh_all(self, now: datetime | None = None) -> None:
        """One round over every wearer's feeds (their busy time over ``busy_span(now)``; now: the host clock)."""
        span = busy_span(now or datetime.now(UTC))
        for wearer, sources in self.feeds.items():
            rule = self.rule_of(wearer)
            found: list[list[Busy]] = []
            failed = False
            for source in sources:
                name = feed_name(wearer, source)
                try:
                    result = await refresh(self.session, name, source, self.store, rule, span)
                except Exception as exc:  # a bug a feed found: that feed this round; the others and the service go on
                    _LOGGER.exception("calendar %s: refresh failed", name)
                    problem = f"calendar {name}: internal error {exc!r}"[:300]
                    result = RefreshResult(changed=False, problem=problem, kind="internal")
                    failed = True
                self.refreshes += 1
                self._report(name, result)
                if result.busy is not None:
                    found.append(result.busy)
            if not failed:  # else the wearer keeps the busy time of the last round
                self.on_busy(wearer, merge_busy(found))
        self.rounds += 1

    def _report(self, name: str, result: RefreshResult) -> None:
        if result.problem is None:
            if self._reported.pop(name, None) is not None:
                _LOGGER.info("calendar %s: refreshed again", name)
            return
        kind = result.kind or "unknown"
        self.problems += 1
        self.problem_kinds[kind] += 1
        if self._reported.get(name) != kind:
            self._reported[name] = kind
            _LOGGER.warning("%s (%s; logged once until it changes)", result.problem, kind)

    async def run(self) -> None:
        """Refresh every ``every_s`` until cancelled. A round that fails (a bug) is logged and counted (kind
        ``internal``); the next one comes on time: the calendars never stop the alert service. Run again (the
        service's next broker connection), it keeps the schedule: a flapping broker does not hammer the feeds."""
        loop = asyncio.get_running_loop()
        while True:
            if self._next_round is not None and (wait := self._next_round - loop.time()) > 0:
                await asyncio.sleep(wait)
            self._next_round = loop.time() + self.every_s
            try:
                await self.refresh_all()
            except Exception:
                _LOGGER.exception("calendars: a refresh round failed; the next one comes in %.0f s", self.every_s)
                self.problems += 1
                self.problem_kinds["internal"] += 1
