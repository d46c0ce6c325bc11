"""The alert service's intake (alerts.intake): urgent wearers first, each wearer's messages in order, and
acknowledgements owed in the order the messages were received, whatever the order of handling."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.intake import Intake

WEARERS = st.sampled_from(["a", "b", "c", None])
# a script: put a message of a wearer, urge a wearer, or pop (and handle) the next message
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), WEARERS),
        st.tuples(st.just("urge"), st.sampled_from(["a", "b", "c"])),
        st.tuples(st.just("pop"), st.none()),
    ),
    max_size=80,
)
Script = list[tuple[str, str | None]]


def run(script: Script) -> tuple[list[tuple[int, str | None]], list[int], int, list[str]]:
    """Puts, urges and pops as scripted, then pops what is left; every popped message handled (its ack: its number).
    Returns the handling order (number, wearer), the acknowledgements owed in the order owed, the count put, and for
    each pop after an urge of a wearer with messages waiting, the wearer urged."""
    intake: Intake[str] = Intake()
    order: list[tuple[int, str | None]] = []
    owed: list[tuple[int, int]] = []
    put = 0
    urged: list[str] = []
    broken: list[str] = []

    def pop() -> None:
        number, item, wearer = intake.pop()
        assert item == f"m{number}"
        if urged:
            if wearer != urged[0]:
                broken.append(f"{wearer} popped while {urged[0]} was urged")
            if not intake.waiting(urged[0]):
                urged.pop(0)
        order.append((number, wearer))
        intake.handled(number, (number, 1), owed)
        assert len(intake) == put - len(order)

    for step, wearer in script:
        if step == "put":
            assert intake.put(f"m{put}", wearer) == put
            put += 1
        elif step == "urge":
            assert wearer is not None
            if intake.waiting(wearer) and wearer not in urged:
                urged.append(wearer)
            intake.urge(wearer)
        elif intake:
            pop()
    while intake:
        pop()
    return order, [mid for mid, _ in owed], put, broken


@given(STEPS)
def test_each_wearers_messages_are_handled_once_in_the_order_received(script: Script) -> None:
    order, _, put, _ = run(script)
    assert sorted(n for n, _ in order) == list(range(put))
    for wearer in ("a", "b", "c", None):
        numbers = [n for n, w in order if w == wearer]
        assert numbers == sorted(numbers)


@given(STEPS)
def test_an_urged_wearers_waiting_messages_all_go_before_anything_else(script: Script) -> None:
    _, _, _, broken = run(script)
    assert broken == []


@given(STEPS)
def test_acknowledgements_are_owed_in_the_order_received_and_all_once_handled(script: Script) -> None:
    _, owed, put, _ = run(script)
    assert owed == list(range(put))


def test_an_urgent_wearers_messages_go_before_those_waiting_and_their_acks_wait_for_theirs() -> None:
    intake: Intake[str] = Intake()
    intake.put("m0", "bob")
    intake.put("m1", "ann")
    intake.put("m2", "cy")
    intake.put("m3", "ann")
    intake.urge("ann")
    owed: list[tuple[int, int]] = []
    for expected in ("m1", "m3"):
        number, item, wearer = intake.pop()
        assert (item, wearer) == (expected, "ann")
        intake.handled(number, (100 + number, 1), owed)
    assert owed == []  # bob's message, received before both, still waits
    number, item, _ = intake.pop()
    assert item == "m0"
    intake.handled(number, (100, 1), owed)
    assert owed == [(100, 1), (101, 1)]  # ann's first; her second waits for cy's
    number, item, _ = intake.pop()
    assert item == "m2"
    intake.handled(number, (102, 1), owed)
    assert owed == [(100, 1), (101, 1), (102, 1), (103, 1)]
    assert intake.urgent_handled == 2
    assert not intake and intake.first_waiting() == 4


def test_urging_a_wearer_with_nothing_waiting_does_nothing() -> None:
    intake: Intake[str] = Intake()
    intake.urge("ann")
    intake.put("m0", "bob")
    intake.put("m1", "ann")
    assert [intake.pop()[1] for _ in range(2)] == ["m0", "m1"]
    assert intake.urgent_handled == 0
