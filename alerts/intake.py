"""The alert service's intake: messages taken from the MQTT client and not handled yet, prompts first (issue 18 item 1).

When the service is behind its input (a burst: thousands of wearers' messages waiting at once), handling them in
the order they came makes the one message that crosses a wearer's threshold wait for every message ahead of it: at
10,000 wearers that was the largest part of a prompt's latency (``alerts.latency``'s ``started``, p99 0.36 s in
bench/alerts_scale.py). The intake keeps each wearer's waiting messages in order, and a line of *urgent* wearers:
those whose prompt is about to come due (the service asks the engine's ``prompt_due_by`` when it takes a message and
after it handles one). An urgent wearer's waiting messages are all handled, in order, before anything else; then
the rest in the order received. What each wearer's messages decide does not change, only when, so:

- **a wearer's messages keep their order**: they are always handled oldest first, urgent or not;
- **acknowledgements keep the order the messages came in** (MQTT 3.1.1, 4.6.0-2: PUBACKs in the order the PUBLISH
  packets were received): each message gets a receipt number when it is put in; a handled message is owed its
  acknowledgement only once no message received before it still waits (``handled``), so the service acknowledges a
  prefix of what it received, in order, as it did when it handled everything in order.

A message without a wearer (a topic that is not Kinetic's: dead-lettered) is never urgent. Pure: no I/O, no clock, no
event loop.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Intake(Generic[T]):
    """Waiting messages (any item: the service puts aiomqtt messages with their take time), by wearer.

    ``put(item, wearer)`` -> its receipt number (0, 1, 2, ... in the order put); ``urge(wearer)``: the wearer's
    waiting messages go before everything else; ``pop()`` -> the next (receipt number, item, wearer): the first
    urgent wearer's oldest message, else the oldest message waiting; IndexError when empty. ``waiting(wearer)``: how
    many of the wearer's messages wait. ``handled(number, ack, owed)``: the message ``number`` was handled and
    ``ack`` (its packet id and QoS; None: the message is left unacknowledged) is owed; every owed acknowledgement
    no waiting message precedes is appended to ``owed`` in receipt order."""

    def __init__(self) -> None:
        self._of: dict[str | None, deque[tuple[int, T]]] = {}  # each wearer's waiting messages, oldest first
        self._order: deque[tuple[int, str | None]] = deque()  # every message put, in receipt order (some handled)
        self._urgent: deque[str] = deque()  # wearers whose waiting messages go first, in the order urged
        self._urged: set[str] = set()
        self._count = 0
        self._next = 0
        self._ahead: list[tuple[int, tuple[int, int] | None]] = []  # handled before a message received earlier: a heap
        self.urgent_handled = 0  # messages popped for an urgent wearer (the service's trace reports it)
        self.urgent_now = False  # whether the message last popped was an urgent wearer's

    def __len__(self) -> int:
        return self._count

    @property
    def urgent_waiting(self) -> bool:
        """Whether an urgent wearer's message waits (other work of the service may wait for it)."""
        return bool(self._urgent)

    def waiting(self, wearer: str | None) -> int:
        queue = self._of.get(wearer)
        return len(queue) if queue else 0

    def put(self, item: T, wearer: str | None) -> int:
        number = self._next
        self._next += 1
        queue = self._of.get(wearer)
        if queue is None:
            queue = self._of[wearer] = deque()
        queue.append((number, item))
        self._order.append((number, wearer))
        self._count += 1
        return number

    def urge(self, wearer: str) -> None:
        if wearer not in self._urged and self._of.get(wearer):
            self._urged.add(wearer)
            self._urgent.append(wearer)

    def pop(self) -> tuple[int, T, str | None]:
        self.urgent_now = bool(self._urgent)
        if self._urgent:
            wearer: str | None = self._urgent[0]
            self.urgent_handled += 1
        else:
            self._skip_handled()
            wearer = self._order[0][1]
        queue = self._of[wearer]
        number, item = queue.popleft()
        if not queue:
            del self._of[wearer]
            if wearer in self._urged:
                self._urged.discard(wearer)
                self._urgent.popleft()
        self._count -= 1
        return number, item, wearer

    def _skip_handled(self) -> None:
        """Drop the receipt line's head entries whose messages were handled already (out of turn, urgent)."""
        order = self._order
        while order:
            number, wearer = order[0]
            queue = self._of.get(wearer)
            if queue and queue[0][0] == number:
                return
            order.popleft()

    def first_waiting(self) -> int:
        """The receipt number of the oldest message waiting; the next number if none waits."""
        self._skip_handled()
        return self._order[0][0] if self._order else self._next

    def handled(self, number: int, ack: tuple[int, int] | None, owed: list[tuple[int, int]]) -> None:
        first = self.first_waiting()
        if number < first and not self._ahead:  # nothing received before it waits, nothing held: the usual case
            if ack is not None:
                owed.append(ack)
            return
        heapq.heappush(self._ahead, (number, ack))
        while self._ahead and self._ahead[0][0] < first:
            held = heapq.heappop(self._ahead)[1]
            if held is not None:
                owed.append(held)
