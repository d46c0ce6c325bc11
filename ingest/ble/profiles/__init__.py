"""Wearable profiles: for each, the GATT facts, a decoder and an emulator (../shared/reference/ble-profiles.md)."""
