#!/usr/bin/env python3
"""Creates the secrets the docker-compose stack reads (stdlib only, no Docker or Mosquitto needed).

    python3 deploy/make_secrets.py [--dir deploy/secrets] [--wearer ann --wearer bob] [--clinic physio-north ...]

Writes random passwords into ``--dir`` (mode 600) and the Mosquitto password file ``deploy/mosquitto/passwd`` for
the service users (bridge, alerts, collector; kinetic-ha, the Home Assistant service, and hass, Home Assistant's own
login: docs/home-assistant.md; kinetic-web, the web app ``kinetic serve``, and kinetic-web-clinic, a clinic's view
of it; kinetic-clinic, a clinician's ``kinetic prescription``: deploy/mosquitto/acl says what each may publish and
read) and any wearers named, and the web app's login token. One credential per service and purpose: InfluxDB's
admin password is used only by ``kinetic store provision``; the bridge writes as ``kinetic_bridge``, Grafana's
Operations data source and the web app read as ``kinetic_reader``, each clinic's data source as
``kinetic_clinic_<clinic>`` (the wall between clinics; ``--clinic``, default: the clinics of deploy/clinics.yaml),
export and delete run as ``kinetic_operator``.
Existing secrets are kept, so re-running only adds what is missing.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import secrets
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVICE_USERS = (
    *("bridge", "alerts", "collector", "kinetic-ha", "hass"),
    *("kinetic-web", "kinetic-web-clinic", "kinetic-clinic"),
)
# the clinics of deploy/clinics.yaml (a test keeps the two equal): each gets a read-only InfluxDB user under the wall
EXAMPLE_CLINICS = ("physio-north", "back-clinic-south")
# file name -> what it is; the compose file mounts each as a Docker secret.
SECRETS = {
    "influxdb_admin_password": "InfluxDB admin password (only `kinetic store provision` logs in with it)",
    # InfluxDB 1.x, least privilege (`kinetic store provision`, docs/deployment.md): one user per service
    "influxdb_bridge_password": "InfluxDB 1.x user kinetic_bridge (WRITE on the database)",
    "influxdb_reader_password": "InfluxDB 1.x user kinetic_reader (READ: Grafana, reports, the web app)",
    "influxdb_operator_password": "InfluxDB 1.x user kinetic_operator (ALL: data export and delete)",
    "grafana_admin_password": "Grafana admin password",
    "web_token": "the web app's login token (KINETIC_WEB__TOKEN: needed to listen beyond loopback)",
    **{f"mqtt_{user}_password": f"MQTT password of user '{user}'" for user in SERVICE_USERS},
    **{
        f"influxdb_clinic_{clinic}_password": f"InfluxDB 1.x user kinetic_clinic_{clinic.replace('-', '_')} (READ on "
        "its clinic's database: the clinic's Grafana data source)"
        for clinic in EXAMPLE_CLINICS
    },
}


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = 101) -> str:
    """The ``$7$`` (PBKDF2-SHA512) format that mosquitto_passwd of Mosquitto 2 writes."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _secret(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def make_secrets(secret_dir: Path, passwd_file: Path, wearers: list[str], clinics: list[str] | None = None) -> None:
    secret_dir.mkdir(parents=True, exist_ok=True)
    values = {name: _secret(secret_dir / name) for name in SECRETS}
    for clinic in clinics or []:
        _secret(secret_dir / f"influxdb_clinic_{clinic}_password")
    lines = [f"{user}:{mosquitto_hash(values[f'mqtt_{user}_password'])}" for user in SERVICE_USERS]
    for wearer in wearers:
        lines.append(f"{wearer}:{mosquitto_hash(_secret(secret_dir / f'mqtt_wearer_{wearer}_password'))}")
    passwd_file.write_text("\n".join(lines) + "\n")
    passwd_file.chmod(0o644)  # read by the mosquitto user inside the container


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=HERE / "secrets", help="where the secret files go")
    parser.add_argument("--passwd", type=Path, default=HERE / "mosquitto" / "passwd", help="Mosquitto password file")
    parser.add_argument("--wearer", action="append", default=[], help="also create an MQTT user for this wearer id")
    parser.add_argument(
        "--clinic", action="append", default=[], help="also a read-only InfluxDB password for this clinic uid"
    )
    args = parser.parse_args(argv)
    make_secrets(args.dir, args.passwd, args.wearer, args.clinic)
    print(f"secrets in {args.dir}, Mosquitto password file {args.passwd}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
