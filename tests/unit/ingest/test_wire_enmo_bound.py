"""``enmo_mg`` and ``sd_mg`` have no upper bound on the wire: a sender in the wrong unit or a broken one sends values
no accelerometer can give, and a minute's mean overflows (issue 13: wrong-unit messages, good data never lost)."""

from __future__ import annotations

import json
import math

from ingest.errors import WireError
from ingest.store.rollup import MinuteRollup
from ingest.wire import FeatureBatchV1, Topics, decode_salvaging

T = 1_796_500_800_000  # a minute's start
TOPICS = Topics("kinetic")
ADDRESS = TOPICS.parse(TOPICS.features("eve", "eve-thigh"))


def batch(start_s: int, enmo_mg: float, seq: int) -> bytes:
    """A batch as a sender puts it on the wire (built as JSON: the wire's own models refuse 1e308 mg)."""
    frames = [
        {"t_ms": T + (start_s + i) * 1000, "gx": 0.0, "gy": -1.0, "gz": 0.0, "enmo_mg": enmo_mg, "sd_mg": enmo_mg}
        | {"n": 50}
        for i in range(10)
    ]
    message = {"v": 1, "wearer": "eve", "device": "eve-thigh", "placement": "thigh", "seq": seq, "frames": frames}
    return json.dumps(message).encode()


def test_ten_seconds_of_1e308_mg_do_not_erase_the_minutes_movement() -> None:
    """Before: all six batches accepted whole; the minute's mean ENMO overflowed to inf, and both stores' encoders drop
    a non-finite field, so features_1m of that minute had no enmo_mg (the 50 good seconds' 2.0 mg lost). No
    accelerometer gives more than sqrt(3) * 16 g - 1 g, about 26,700 mg: such a frame is refused at the edge."""
    rollup = MinuteRollup()
    refused = []
    for k in range(7):
        try:
            message, reason = decode_salvaging(ADDRESS, batch(k * 10, 1e308 if k == 2 else 2.0, k))
        except WireError as exc:  # every frame refused: the batch is
            refused.append(str(exc))
            continue
        refused.append(reason)
        assert isinstance(message, FeatureBatchV1)
        points = rollup.add(message)
    assert refused[2] is not None and "enmo_mg" in refused[2]
    (minute,) = points  # the minute closes with the seventh batch
    assert math.isfinite(minute.fields["enmo_mg"]) and minute.fields["enmo_mg"] == 2.0
