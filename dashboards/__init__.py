"""Grafana dashboards (generated JSON, committed) and provisioning for the InfluxDB datasource."""
