"""The live stream leaves no task behind when its client goes: closing a Today tab cancels the task iterating the
stream while it waits for a change, and the waiter it had made was left pending ("Task was destroyed but it is
pending!" in ``kinetic serve``'s log at each closed tab; found by the fresh-clone pass)."""

from __future__ import annotations

import asyncio

from dashboards.web.app import LiveHub, live_events


def test_a_client_that_goes_while_the_stream_waits_leaves_no_task() -> None:
    async def scenario() -> tuple[list[str], set[asyncio.Task[object]]]:
        hub, closing = LiveHub(), asyncio.Event()
        seen: list[str] = []

        async def client() -> None:
            async for event in live_events(hub, closing, lambda: {"posture": "sitting"}, "ann"):
                seen.append(event["data"])

        reader = asyncio.create_task(client())
        for _ in range(5):
            await asyncio.sleep(0)
        hub.notify("ann")  # one change: a second snapshot
        for _ in range(5):
            await asyncio.sleep(0)
        reader.cancel()  # the tab closes while the stream waits for the next change
        await asyncio.gather(reader, return_exceptions=True)
        for _ in range(3):
            await asyncio.sleep(0)
        left = {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}
        return seen, left

    seen, left = asyncio.run(scenario())
    assert seen == ['{"posture":"sitting"}'] * 2
    assert left == set()
