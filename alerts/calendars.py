"""Calendar feeds, fetched (issue 17): the thin adapter around ``alerts.prompts.calendar``.

A wearer's feed is an iCalendar address (the secret ICS address Google Calendar, Outlook and Nextcloud publish) or a
file. Each refresh asks with HTTP caching (``If-None-Match`` with the last ``ETag``, ``If-Modified-Since`` with the
last ``Last-Modified``): a ``304 Not Modified`` costs no download. A copy is taken only once it parses as
iCalendar, and the **last good copy** is kept, on disk, through a feed that is down, answers an error or sends
something that is no calendar: prompts keep following the meetings Kinetic last knew of, and the refresh says what
went wrong (the service that schedules refreshes logs and counts it; not built yet).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from alerts.prompts.calendar import MAX_CALENDAR_BYTES, CalendarError, busy_intervals
from ingest.store.private import private_file

TIMEOUT_S = 20.0


@dataclass
class FeedCopy:
    """The last good copy of one feed and what its server said about it."""

    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    fetched: str = ""  # ISO time of the last good copy


@dataclass
class RefreshResult:
    changed: bool
    problem: str | None = None  # why the feed could not be refreshed (the last good copy stays)


@dataclass
class FeedStore:
    """Last good copies on disk, one JSON file per feed in ``folder`` (mode 600: a feed's address is a secret and its
    body a person's diary)."""

    folder: Path
    copies: dict[str, FeedCopy] = field(default_factory=dict)

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def get(self, name: str) -> FeedCopy | None:
        if name not in self.copies and self._path(name).is_file():
            data = json.loads(self._path(name).read_text())
            self.copies[name] = FeedCopy(
                data["body"].encode(), data.get("etag"), data.get("last_modified"), data["fetched"]
            )
        return self.copies.get(name)

    def put(self, name: str, copy: FeedCopy) -> None:
        self.copies[name] = copy
        record = {"body": copy.body.decode("utf-8", "replace"), "etag": copy.etag, "last_modified": copy.last_modified}
        path = private_file(self._path(name))
        tmp = private_file(path.with_suffix(".tmp"))
        tmp.write_text(json.dumps({**record, "fetched": copy.fetched}))
        tmp.replace(path)


def _check(body: bytes, zone: ZoneInfo) -> None:
    """Raise CalendarError unless ``body`` is a calendar Kinetic can expand (over the next week)."""
    now = datetime.now(UTC)
    busy_intervals(body, now, now + timedelta(days=7), zone)


async def refresh(
    session: aiohttp.ClientSession, name: str, source: str, store: FeedStore, zone: ZoneInfo
) -> RefreshResult:
    """Fetch feed ``name`` from ``source`` (an ``http(s)://`` address or a file path) and keep it if it is a
    calendar. Never raises for the feed's faults: the result says what went wrong and the last good copy stays."""
    had = store.get(name)
    try:
        if source.startswith(("http://", "https://")):
            body, etag, modified = await _fetch(session, source, had)
            if body is None:  # 304: unchanged
                return RefreshResult(changed=False)
        else:
            body, etag, modified = await asyncio.to_thread(_read_file, Path(source)), None, None
            if had is not None and had.body == body:
                return RefreshResult(changed=False)
        await asyncio.to_thread(_check, body, zone)
    except (aiohttp.ClientError, TimeoutError, OSError, CalendarError, _FeedError) as exc:
        problem = f"calendar {name}: {exc if str(exc) else type(exc).__name__}"
        kept = f"; the copy of {had.fetched} is kept" if had is not None else "; no earlier copy"
        return RefreshResult(changed=False, problem=problem + kept)
    store.put(name, FeedCopy(body, etag, modified, datetime.now(UTC).isoformat(timespec="seconds")))
    return RefreshResult(changed=True)


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
