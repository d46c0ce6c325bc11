"""What every line-protocol writer shares (the adapters in ``influx_v1``, ``influx_v2`` and ``embedded``)."""

from __future__ import annotations

import asyncio

from ingest.store.points import Point


class LineSink:
    """What every writer shares: ``write`` is ``write_lines(encode(points))`` and empty bodies are skipped."""

    writes_line_protocol = False

    def encode(self, points: list[Point]) -> bytes:
        raise NotImplementedError

    async def write_lines(self, body: bytes) -> None:
        if body:
            await asyncio.to_thread(self._write, body)

    async def write(self, points: list[Point]) -> None:
        await self.write_lines(self.encode(points))

    def _write(self, body: bytes) -> None:
        """Write one body, blocking (runs in a worker thread)."""
        raise NotImplementedError
