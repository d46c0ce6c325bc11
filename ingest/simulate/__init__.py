"""Virtual wearers following a scripted day (a YAML scenario), publishing feature frames like a collector."""
