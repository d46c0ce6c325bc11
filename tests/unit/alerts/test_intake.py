"""The alert service's intake (alerts.intake): urgent messages first, each wearer's messages in order, and
acknowledgements owed in the order the messages were received, whatever the order of handling."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.intake import Intake

# a script: each step puts a message (its wearer, whether it is urgent) or pops the next one
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(["a", "b", "c", None]), st.booleans()),
        st.tuples(st.just("pop"), st.none(), st.none()),
    ),
    max_size=80,
)


def run(script: list[tuple[str, str | None, bool | None]]) -> tuple[list[tuple[int, str | None]], list[int], int]:
    """Puts and pops as scripted, then pops what is left; every popped message handled (its ack: its number).
    Returns the handling order (number, wearer), the acknowledgements owed in the order owed, and the count put."""
    intake: Intake[str] = Intake()
    order: list[tuple[int, str | None]] = []
    owed: list[tuple[int, int]] = []
    put = 0

    def pop() -> None:
        number, item, wearer = intake.pop()
        assert item == f"m{number}"
        order.append((number, wearer))
        intake.handled(number, (number, 1), owed)

    for step, wearer, urgent in script:
        if step == "put":
            assert intake.put(f"m{put}", wearer, bool(urgent)) == put
            put += 1
        elif intake:
            pop()
    while intake:
        pop()
    return order, [mid for mid, _ in owed], put


@given(STEPS)
def test_each_wearers_messages_are_handled_in_the_order_received(
    script: list[tuple[str, str | None, bool | None]],
) -> None:
    order, _, put = run(script)
    assert sorted(n for n, _ in order) == list(range(put))  # every message once
    for wearer in ("a", "b", "c"):
        numbers = [n for n, w in order if w == wearer]
        assert numbers == sorted(numbers)


@given(STEPS)
def test_acknowledgements_are_owed_in_the_order_received_and_all_once_handled(
    script: list[tuple[str, str | None, bool | None]],
) -> None:
    _, owed, put = run(script)
    assert owed == list(range(put))


def test_an_urgent_message_goes_before_those_waiting_and_its_ack_waits_for_theirs() -> None:
    intake: Intake[str] = Intake()
    for i in range(3):
        intake.put(f"m{i}", f"w{i}", urgent=False)
    intake.put("m3", "ann", urgent=True)
    owed: list[tuple[int, int]] = []
    number, item, wearer = intake.pop()
    assert (number, item, wearer) == (3, "m3", "ann")
    intake.handled(number, (103, 1), owed)
    assert owed == []  # three messages received before it still wait
    for mid in (100, 101, 102):
        number, _, _ = intake.pop()
        intake.handled(number, (mid, 1), owed)
    assert owed == [(100, 1), (101, 1), (102, 1), (103, 1)]
    assert intake.urgent_taken == 1


def test_a_wearer_with_a_message_waiting_in_the_normal_line_gets_none_in_the_urgent_one() -> None:
    intake: Intake[str] = Intake()
    intake.put("m0", "bob", urgent=False)
    intake.put("m1", "ann", urgent=False)
    intake.put("m2", "ann", urgent=True)  # ann's earlier message waits in the normal line: it must come first
    intake.put("m3", "cy", urgent=True)
    assert [intake.pop()[1] for _ in range(4)] == ["m3", "m0", "m1", "m2"]
    assert intake.urgent_taken == 1
