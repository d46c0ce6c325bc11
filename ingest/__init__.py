"""Kinetic ingest, the bottom layer: the wire contract and settings, the sources (BLE wearables, the simulator,
labelled recordings), the per-second edge features, the MQTT adapter, the bridge and the stores with their
queries. Imports neither ``alerts`` nor ``dashboards`` (import-linter, ``.importlinter``)."""
