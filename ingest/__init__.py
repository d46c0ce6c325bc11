"""Kinetic ingest: the wire contract, simulated and (later) BLE wearables, the MQTT -> InfluxDB bridge."""
