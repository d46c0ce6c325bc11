"""The planner's reasons, in words."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from alerts.prompts.policy import planner


def test_every_reason_the_planner_gives_has_words() -> None:
    """The demo, the web app and Home Assistant show why a prompt waited: no reason the planner can give may reach
    a person as an identifier."""
    given = set(re.findall(r'return "([a-z_]+)"', inspect.getsource(planner.PlannerState.hold_reason)))
    given |= set(planner.SILENT_HOLDS) | {"moved"}
    # and the holds the engine adds (a still sensor, a meeting)
    engine = (Path(planner.__file__).parents[2] / "engine.py").read_text()
    given |= {r for line in engine.splitlines() if "hold = {" in line for r in re.findall(r': "([a-z_]+)"', line)}
    assert {"sensor_still", "meeting"} <= given
    assert given <= set(planner.REASON_WORDS), given - set(planner.REASON_WORDS)
    assert planner.reason_in_words("held: day_cap") == "waited: daily prompt limit reached"
    assert planner.reason_in_words("spacing") == "too soon after the last prompt"
    assert planner.reason_in_words(None) == "" and planner.reason_in_words("new_rule") == "new_rule"
