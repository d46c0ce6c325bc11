"""Emulated wearables on Bumble: GATT servers that speak each profile of ``ingest.ble.profiles``, adapters
for tests, the demo and replays (the profiles themselves are pure)."""
