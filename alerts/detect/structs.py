"""State kept in ``msgspec.Struct`` (``array_like=True``): the alert service's snapshot (alerts/state.py, formats 2, 3)
writes such a structure in C as the array of its fields in the order declared, and decodes it back into one.

Snapshots of format 1 are pickles of these classes from when they were dataclasses; ``restore_fields`` fills the
Struct that unpickling makes (alerts.state ``_struct_maker``) from the state such a pickle holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec


def restore_fields(obj: msgspec.Struct, state: Mapping[str, Any] | Sequence[Any]) -> None:
    """Set ``obj``'s fields from a format-1 pickle's state: the dict of a dataclass's fields, (a dataclass with
    slots) their values in order, or (a class with ``__slots__``) its dict and the dict of its slots. A field the
    pickled class did not have yet takes its default; one it had and the Struct has not is dropped (as unpickling
    into the dataclass kept it unused); a field without a value or a default raises ``AttributeError``."""
    fields = msgspec.structs.fields(type(obj))
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], Mapping):  # a class with __slots__
        state = {**(state[0] or {}), **state[1]}
    values = dict(state) if isinstance(state, Mapping) else dict(zip((f.name for f in fields), state, strict=False))
    for f in fields:
        if f.name in values:
            value = values[f.name]
        elif f.default_factory is not msgspec.NODEFAULT:
            value = f.default_factory()
        elif f.default is not msgspec.NODEFAULT:
            value = f.default
        else:
            raise AttributeError(f"a pickled {type(obj).__name__} has no {f.name}")
        msgspec.structs.force_setattr(obj, f.name, value)
