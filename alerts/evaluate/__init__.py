"""``kinetic evaluate``: the whole detection path (raw samples -> features -> posture -> bouts) on labelled
recordings, with per-class and bout-level results. Dataset layouts are described in
``ingest/recordings/datasets/*.yaml``."""
