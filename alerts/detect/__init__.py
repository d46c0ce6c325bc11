"""Detection, pure: per-second frames -> a sensor's upright (calibration) -> posture -> bouts, lean and trunk
exposures -> hourly summaries. Time comes from the frames; no I/O (import-linter forbids it)."""
