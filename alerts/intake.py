"""The alert service's intake: messages taken from the MQTT client and not handled yet, prompts first (issue 18 item 1).

When the service is behind its input (a burst: thousands of wearers' messages waiting at once), handling them in
the order they came makes the one message that crosses a wearer's threshold wait for every message ahead of it: at
10,000 wearers that was the largest part of a prompt's latency (``alerts.latency``'s ``started``, p99 0.36 s in
bench/alerts_scale.py). The intake keeps two lines: a message of a wearer whose prompt is about to come due (the
engine's ``prompt_due_by``, asked after each of the wearer's messages) goes in the *urgent* line, handled before the
*normal* one; everything else goes in the normal line. What each wearer's messages decide does not change, only
when, so:

- **a wearer's messages keep their order**: a message goes in the urgent line only if none of its wearer's
  messages waits in the normal line (their number is kept per wearer), so a wearer's urgent messages always come
  before its normal ones in the order received too;
- **acknowledgements keep the order the messages came in** (MQTT 3.1.1, 4.6.0-2: PUBACKs in the order the PUBLISH
  packets were received): each message gets a receipt number when it is put in; a handled message is owed its
  acknowledgement only once no message received before it still waits (``handled``), so the service acknowledges a
  prefix of what it received, in order, as it did when it handled everything in order.

A message without a wearer (a topic that is not Kinetic's: dead-lettered) goes in the normal line. Pure: no I/O, no
clock, no event loop.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Intake(Generic[T]):
    """Waiting messages (any item: the service puts aiomqtt messages with their take time) in two lines.

    ``put(item, wearer, urgent)`` -> its receipt number (0, 1, 2, ... in the order put); ``pop()`` -> the next
    (receipt number, item, wearer): the urgent line's oldest, else the normal line's oldest; IndexError when empty.
    ``handled(number, ack, owed)``: the message ``number`` was handled and ``ack`` (its packet id and QoS) is owed;
    every owed acknowledgement no waiting message precedes is appended to ``owed`` in receipt order."""

    def __init__(self) -> None:
        self._urgent: deque[tuple[int, T, str | None]] = deque()
        self._normal: deque[tuple[int, T, str | None]] = deque()
        self._normal_of: dict[str, int] = {}  # messages of each wearer waiting in the normal line
        self._next = 0
        self._ahead: list[tuple[int, tuple[int, int]]] = []  # handled before a message received earlier: a heap
        self.urgent_taken = 0  # messages put in the urgent line (the service's trace reports it)

    def __len__(self) -> int:
        return len(self._urgent) + len(self._normal)

    def put(self, item: T, wearer: str | None, urgent: bool) -> int:
        number = self._next
        self._next += 1
        if urgent and wearer is not None and wearer not in self._normal_of:
            self._urgent.append((number, item, wearer))
            self.urgent_taken += 1
        else:
            self._normal.append((number, item, wearer))
            if wearer is not None:
                self._normal_of[wearer] = self._normal_of.get(wearer, 0) + 1
        return number

    def pop(self) -> tuple[int, T, str | None]:
        if self._urgent:
            return self._urgent.popleft()
        number, item, wearer = self._normal.popleft()
        if wearer is not None:
            left = self._normal_of[wearer] - 1
            if left:
                self._normal_of[wearer] = left
            else:
                del self._normal_of[wearer]
        return number, item, wearer

    def first_waiting(self) -> int:
        """The receipt number of the oldest message waiting (in either line); the next number if none waits."""
        first = self._next
        if self._urgent:
            first = self._urgent[0][0]
        if self._normal and self._normal[0][0] < first:
            first = self._normal[0][0]
        return first

    def handled(self, number: int, ack: tuple[int, int], owed: list[tuple[int, int]]) -> None:
        first = self.first_waiting()
        if number < first and not self._ahead:  # nothing received before it waits, nothing held: the usual case
            owed.append(ack)
            return
        heapq.heappush(self._ahead, (number, ack))
        while self._ahead and self._ahead[0][0] < first:
            owed.append(heapq.heappop(self._ahead)[1])
