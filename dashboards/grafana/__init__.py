"""Grafana dashboards as code (generated JSON, committed), provisioning for the InfluxDB data source, and
``kinetic dashboards push`` (per-clinic folders, teams, permissions)."""
