"""Labelled recordings laid out as in ../shared/data (README, labels.csv, recordings/*.csv.gz): read for replay
through emulated sensors (ingest.ble.simulate_ble) and for the evaluation of detection (alerts.evaluate)."""
