"""What people look at: Grafana dashboards as code with their provisioning and ``push`` (``grafana/``) and the
weekly report (``report/``). Imports ``ingest`` and ``alerts``."""
