"""The collector's wearables list with one sensor twice (a copied TOML block whose device id or address was not
changed). The phone list refuses a wearer or token listed twice (PhoneSettings); the collector takes both entries:
its BLE clients are keyed by device id (the second replaces the first), and two sensors publishing one device's
topic interleave their seconds, which every receiver's order rule then drops as repeats (issue 13: text from users,
policy and config files, normalised or refused at the edge)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ingest.settings import CollectorSettings


def wearable(device: str, address: str) -> dict[str, str]:
    return {"wearer": "ann", "device": device, "profile": "kinetic-diy", "placement": "thigh", "address": address}


@pytest.mark.parametrize(
    "pair",
    [
        (wearable("ann-thigh", "AA:BB:CC:DD:EE:01"), wearable("ann-thigh", "AA:BB:CC:DD:EE:02")),
        (wearable("ann-thigh", "AA:BB:CC:DD:EE:01"), wearable("ann-trunk", "AA:BB:CC:DD:EE:01")),
    ],
    ids=["same device id", "same address"],
)
def test_one_sensor_listed_twice_is_refused(pair: tuple[dict[str, str], dict[str, str]]) -> None:
    """Before: accepted."""
    with pytest.raises(ValidationError, match=r"twice|more than once|same"):
        CollectorSettings(wearables=list(pair))  # type: ignore[arg-type]
