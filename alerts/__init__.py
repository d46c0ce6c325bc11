"""Kinetic alerts: detection (``detect/``: calibration, posture, bouts, exposures, hourly summaries), prompting
(``prompts/``: catalog, policy and planner, response), delivery channels, the engine that composes them per second,
the service around it and the evaluation of detection. Imports only ``ingest``."""
