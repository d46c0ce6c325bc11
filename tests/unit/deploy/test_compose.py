"""docker-compose.yml cannot run here (no Docker engine): check it against the code instead."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.alerts_scale import DEPLOYED_AUTOSAVE_S
from dashboards.grafana.build import DASHBOARD_DIR, dashboards, render
from dashboards.web.logins import Logins
from kinetic.cli import build_parser
from kinetic.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
KINETIC = {name: s for name, s in SERVICES.items() if s.get("image") == "kinetic:latest"}
MAKE_SECRETS = runpy.run_path(str(ROOT / "deploy" / "make_secrets.py"))
DUMMY = "dummy-value-0123456789"  # as long as the longest minimum (KINETIC_WEB__TOKEN: 16)
GENERATED = (
    {"deploy/mosquitto/passwd", f"deploy/secrets/{MAKE_SECRETS['WEB_LOGINS']}"}
    | {f"deploy/secrets/{name}" for name in MAKE_SECRETS["SECRETS"]}
    | {f"deploy/secrets/{MAKE_SECRETS['web_logins_file'](c)}" for c in MAKE_SECRETS["EXAMPLE_CLINICS"]}
)


def cli_commands() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return set(sub.choices)  # type: ignore[arg-type]


def test_the_stack_has_the_production_services() -> None:
    assert {"mosquitto", "influxdb", "grafana", "bridge", "alerts", "collector"} <= set(SERVICES)
    assert SERVICES["influxdb"]["image"].startswith("influxdb:1.")  # what the wall and the users are tested on
    assert SERVICES["influxdb"]["environment"]["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    assert SERVICES["mosquitto"]["image"] == "eclipse-mosquitto:2"
    assert SERVICES["collector"]["network_mode"] == "host"
    assert "/var/run/dbus:/var/run/dbus:ro" in SERVICES["collector"]["volumes"]


@pytest.mark.parametrize("name", sorted(KINETIC))
def test_kinetic_service_environment_and_secrets_match_the_settings(name: str, tmp_path: Path) -> None:
    service = KINETIC[name]
    environ = {k: str(v) for k, v in service.get("environment", {}).items()}
    assert all(k.startswith("KINETIC_") for k in environ)
    secrets_dir = tmp_path / "run-secrets"
    secrets_dir.mkdir()
    for secret in service.get("secrets", []):
        assert secret["source"] in COMPOSE["secrets"], secret
        (secrets_dir / secret["target"]).write_text(DUMMY)
    settings = load_settings(environ=environ, secrets_dir=secrets_dir)  # extra="forbid": unknown keys fail
    for secret in service.get("secrets", []):
        if not secret["target"].startswith("KINETIC_"):  # a file a command reads itself (store provision --secrets)
            read_by_path = f"/run/secrets/{secret['target']}" in environ.values()  # a *_PATH setting names it
            assert secret["target"] == secret["source"] and ("--secrets" in service["command"] or read_by_path), secret
            continue
        section, key = secret["target"].removeprefix("KINETIC_").lower().split("__")
        assert getattr(getattr(settings, section), key).get_secret_value() == DUMMY


@pytest.mark.parametrize("name", sorted(KINETIC))
def test_kinetic_service_commands_exist(name: str) -> None:
    assert KINETIC[name]["command"][0] in cli_commands()


def test_every_mounted_file_exists_or_is_made_by_make_secrets(tmp_path: Path) -> None:
    made = tmp_path / "secrets"
    MAKE_SECRETS["make_secrets"](made, tmp_path / "passwd", [])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if not host.startswith("./"):
                continue
            rel = host.removeprefix("./")
            if rel in GENERATED:
                generated = tmp_path / "passwd" if rel.endswith("passwd") else made / Path(rel).name
                assert generated.is_file(), f"{name}: {rel} is not made by make_secrets.py"
            else:
                assert (ROOT / rel).exists(), f"{name}: mounts {rel}, which is not in the repository"
    for secret in COMPOSE["secrets"].values():
        rel = secret["file"].removeprefix("./")
        assert rel in GENERATED and (made / Path(rel).name).is_file()


def test_mosquitto_config_raises_the_queue_limit_and_requires_passwords() -> None:
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text().splitlines()
    settings = dict(line.split(None, 1) for line in conf if line and not line.startswith("#"))
    assert int(settings["max_queued_messages"]) >= 100_000
    assert settings["allow_anonymous"] == "false"
    assert settings["password_file"] == "/mosquitto/config/passwd" and settings["acl_file"] == "/mosquitto/config/acl"
    assert settings["set_tcp_nodelay"] == "true"  # Nagle off: a prompt is not held for a delayed ACK (issue 18)
    # the broker routes nothing while it writes its store: bench.alerts_scale runs it with the deployment's interval
    assert int(settings["autosave_interval"]) == DEPLOYED_AUTOSAVE_S


def test_grafana_provisioning_points_at_the_generated_dashboards() -> None:
    datasource = yaml.safe_load((ROOT / "dashboards/grafana/provisioning/datasources/influxdb.yaml").read_text())
    (ds,) = datasource["datasources"]
    assert ds["type"] == "influxdb" and ds["jsonData"]["dbName"] == "kinetic"
    # Grafana reads with the read-only user, never the admin (issue 20: one credential per service and purpose)
    assert ds["user"] == "kinetic_reader"
    assert ds["secureJsonData"]["password"] == "$__file{/run/secrets/influxdb_reader_password}"
    assert "influxdb_reader_password" in SERVICES["grafana"]["secrets"]
    provider = yaml.safe_load((ROOT / "dashboards/grafana/provisioning/dashboards/kinetic.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["grafana"]["volumes"] if v.startswith("./")}
    assert (ROOT / mounts[path].removeprefix("./")).resolve() == DASHBOARD_DIR.resolve()
    for name, model in dashboards().items():
        assert (DASHBOARD_DIR / name).read_text() == render(model), "run `python -m dashboards.grafana.build`"
        for panel in model["panels"]:
            assert panel["datasource"]["uid"] == ds["uid"]


def test_mosquitto_password_hash_format() -> None:
    hashed = MAKE_SECRETS["mosquitto_hash"]("pw", salt=b"\x00" * 12)
    assert hashed.startswith("$7$101$AAAAAAAAAAAAAAAA$") and len(hashed.split("$")) == 5


def test_the_shipped_policy_file_loads_and_the_alert_service_keeps_its_state_on_a_volume() -> None:
    from alerts.prompts.policy.model import PolicyBook

    book = PolicyBook.load(ROOT / "deploy" / "policy.yaml")
    assert book.for_wearer("anna").sitting_threshold_min == 25
    assert book.for_wearer("ben").active_hours == {d: ["22:00-06:00"] for d in ("mon", "tue", "wed", "thu")}
    env = SERVICES["alerts"]["environment"]
    volume = env["KINETIC_ALERTS__STATE_DIR"].rsplit("/", 1)[0]
    assert any(v.endswith(f":{volume}") for v in SERVICES["alerts"]["volumes"])


def test_one_credential_per_service_and_purpose() -> None:
    """Only the provisioning job logs in as InfluxDB's admin; the bridge writes as kinetic_bridge; the wall is on."""
    uses_admin = [
        name
        for name, service in SERVICES.items()
        for secret in service.get("secrets", [])
        if (secret if isinstance(secret, str) else secret["source"]) == "influxdb_admin_password"  # influxdb: short
    ]
    assert sorted(uses_admin) == ["influxdb", "provision"]
    bridge = SERVICES["bridge"]
    assert bridge["environment"]["KINETIC_INFLUX__USERNAME"] == "kinetic_bridge"
    assert {"source": "influxdb_bridge_password", "target": "KINETIC_INFLUX__PASSWORD"} in bridge["secrets"]
    assert bridge["environment"]["KINETIC_STORE__CLINIC_WALL"] == "true"
    assert bridge["environment"]["KINETIC_INFLUX__CREATE_DATABASE"] == "false"
    assert SERVICES["provision"]["command"][:2] == ["store", "provision"]
    assert bridge["depends_on"]["provision"] == {"condition": "service_completed_successfully"}


def test_the_example_clinics_each_have_a_reader_password() -> None:
    clinics = yaml.safe_load((ROOT / "deploy" / "clinics.yaml").read_text())["clinics"]
    assert tuple(c["uid"] for c in clinics) == MAKE_SECRETS["EXAMPLE_CLINICS"]
    mounted = {s["source"] for s in SERVICES["provision"]["secrets"]}
    assert {f"influxdb_clinic_{c['uid']}_password" for c in clinics} <= mounted


CLINIC_LOGINS = ("clinic_user", "web_clinic_user")  # per clinic: its clinicians', its web view's


def acl_users() -> set[str]:
    lines = (ROOT / "deploy" / "mosquitto" / "acl").read_text().splitlines()
    return {line.split(None, 1)[1].strip() for line in lines if line.startswith("user ")}


@pytest.mark.parametrize("name", sorted(n for n, s in KINETIC.items() if "KINETIC_MQTT__USERNAME" in s["environment"]))
def test_each_service_logs_in_to_mqtt_as_a_user_of_the_acl_with_its_own_password(name: str) -> None:
    """A service borrowing another's login would get that login's rights (issue 20: one credential per purpose)."""
    user = SERVICES[name]["environment"]["KINETIC_MQTT__USERNAME"]
    clinics = [MAKE_SECRETS[of](clinic) for clinic in MAKE_SECRETS["EXAMPLE_CLINICS"] for of in CLINIC_LOGINS]
    assert user in {*MAKE_SECRETS["SERVICE_USERS"], *clinics} and user in acl_users(), f"{name}: MQTT user {user!r}"
    assert {"source": f"mqtt_{user}_password", "target": "KINETIC_MQTT__PASSWORD"} in SERVICES[name]["secrets"]


def test_the_web_app_and_the_clinician_have_logins_of_their_own() -> None:
    assert SERVICES["web"]["environment"]["KINETIC_MQTT__USERNAME"] == "kinetic-web"
    assert SERVICES["web"]["environment"]["KINETIC_INFLUX__USERNAME"] == "kinetic_web"  # reads the wall's databases
    assert {"source": "influxdb_web_password", "target": "KINETIC_INFLUX__PASSWORD"} in SERVICES["web"]["secrets"]
    # a clinician logs in as their clinic, to MQTT and InfluxDB alike (issue 20: one clinic's login per clinic)
    assert SERVICES["prescription"]["environment"]["KINETIC_MQTT__USERNAME"] == "kinetic-clinic-physio-north"
    assert SERVICES["prescription"]["environment"]["KINETIC_INFLUX__USERNAME"] == "kinetic_clinic_physio_north"
    # a clinic's web view logs in as its clinic's view, to MQTT (its patients' live topics only) and InfluxDB alike
    view = SERVICES["web-physio-north"]["environment"]
    assert view["KINETIC_WEB__CLINIC"] == "physio-north"
    assert view["KINETIC_MQTT__USERNAME"] == "kinetic-web-clinic-physio-north"
    assert view["KINETIC_INFLUX__USERNAME"] == "kinetic_clinic_physio_north"
    assert "kinetic-web-clinic" not in acl_users()  # no web login reading every clinic's wearers any more


def test_the_web_app_has_a_login_per_wearer_from_make_secrets(tmp_path: Path) -> None:
    """Compose's web app uses per-person logins (issue 20): make_secrets.py --wearer writes the logins file the app
    reads (hashes only, mode 600), each wearer's password opens that wearer's login only; the operator's is staff."""
    web = SERVICES["web"]
    assert web["environment"]["KINETIC_WEB__LOGINS_PATH"] == "/run/secrets/web_logins.json"
    assert {"source": "web_logins.json", "target": "web_logins.json"} in web["secrets"]
    assert "KINETIC_WEB__TOKEN" not in {s["target"] for s in web["secrets"]}
    made = tmp_path / "secrets"
    MAKE_SECRETS["make_secrets"](made, tmp_path / "passwd", ["ann", "bob"])
    path = made / MAKE_SECRETS["WEB_LOGINS"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    logins = Logins(path)
    logins.check()
    assert [(e.name, e.role, e.wearer) for e in logins.all()] == [
        ("ann", "wearer", "ann"),
        ("bob", "wearer", "bob"),
        ("operator", "staff", None),
    ]
    passwords = {name: (made / f"web_login_{name}_password").read_text().strip() for name in ("ann", "bob", "operator")}
    assert all(password not in path.read_text() for password in passwords.values())
    assert logins.verify("ann", passwords["ann"]) is not None and logins.verify("ann", passwords["bob"]) is None
    assert logins.verify("operator", passwords["operator"]) is not None
    MAKE_SECRETS["make_secrets"](made, tmp_path / "passwd", ["ann", "bob", "carl"])  # again: kept, one added
    assert Logins(path).verify("ann", passwords["ann"]) is not None and Logins(path).get("carl") is not None


def test_a_clinics_web_view_has_a_staff_login_per_clinician_of_the_clinics_file(tmp_path: Path) -> None:
    view = SERVICES["web-physio-north"]
    assert view["environment"]["KINETIC_WEB__LOGINS_PATH"] == "/run/secrets/web_logins_physio-north.json"
    assert {"source": "web_logins_physio-north.json", "target": "web_logins_physio-north.json"} in view["secrets"]
    made = tmp_path / "secrets"
    (tmp_path / "acl").write_text((ROOT / "deploy" / "mosquitto" / "acl").read_text())
    MAKE_SECRETS["main"](["--dir", str(made), "--passwd", str(tmp_path / "passwd"), "--acl", str(tmp_path / "acl")])
    for clinic in yaml.safe_load((ROOT / "deploy" / "clinics.yaml").read_text())["clinics"]:
        logins = Logins(made / f"web_logins_{clinic['uid']}.json")
        logins.check()
        assert [(e.name, e.role) for e in logins.all()] == [(c, "staff") for c in sorted(clinic["clinicians"])]
        for clinician in clinic["clinicians"]:
            password = (made / f"web_login_{clinic['uid']}_{clinician}_password").read_text().strip()
            assert logins.verify(clinician, password) is not None


def test_the_acls_clinics_section_is_the_one_make_secrets_generates_from_the_clinics_file(tmp_path: Path) -> None:
    """Each clinic's clinicians' login may write its own patients' prescriptions topics only, its web view's read
    their live topics only; the section in the shipped ACL is what make_secrets.py writes for deploy/clinics.yaml
    (edit the roster: run it again)."""
    roster = MAKE_SECRETS["read_roster"](ROOT / "deploy" / "clinics.yaml")
    assert roster == {"physio-north": ["ann", "carl"], "back-clinic-south": ["bob"]}
    acl = (ROOT / "deploy" / "mosquitto" / "acl").read_text()
    assert MAKE_SECRETS["clinic_acl"](roster) in acl
    assert MAKE_SECRETS["with_clinic_acl"](acl, roster) == acl
    moved = {"physio-north": ["carl"], "back-clinic-south": ["ann", "bob"]}  # ann moves south: the lines follow
    copy = tmp_path / "acl"
    copy.write_text(acl)
    MAKE_SECRETS["make_secrets"](tmp_path / "secrets", tmp_path / "passwd", [], roster=moved, acl_file=copy)
    section = copy.read_text().split(MAKE_SECRETS["ACL_BEGIN"])[1].split(MAKE_SECRETS["ACL_END"])[0]
    users = section.split("\nuser ")[1:]

    def view(wearer: str) -> list[str]:
        kinds = ("+/features", "+/status", "prompts", "events", "commands", "erasure", "policy")
        return [f"topic read kinetic/v1/{wearer}/{kind}" for kind in kinds]

    assert [[line for line in u.splitlines() if not line.startswith("#")] for u in users] == [
        [
            "kinetic-clinic-back-clinic-south",
            "topic write kinetic/v1/ann/prescriptions",
            "topic write kinetic/v1/bob/prescriptions",
        ],
        ["kinetic-web-clinic-back-clinic-south", *view("ann"), *view("bob"), "topic write kinetic/v1/_deadletter/web"],
        ["kinetic-clinic-physio-north", "topic write kinetic/v1/carl/prescriptions"],
        ["kinetic-web-clinic-physio-north", *view("carl"), "topic write kinetic/v1/_deadletter/web"],
    ]
    outside = (acl.split(MAKE_SECRETS["ACL_BEGIN"])[0], acl.split(MAKE_SECRETS["ACL_END"])[1])
    rewritten = copy.read_text()
    assert (rewritten.split(MAKE_SECRETS["ACL_BEGIN"])[0], rewritten.split(MAKE_SECRETS["ACL_END"])[1]) == outside
    logins = {line.split(":", 1)[0] for line in (tmp_path / "passwd").read_text().splitlines()}
    assert {"kinetic-clinic-physio-north", "kinetic-clinic-back-clinic-south"} <= logins
    assert {"kinetic-web-clinic-physio-north", "kinetic-web-clinic-back-clinic-south"} <= logins
    assert "kinetic-clinic" not in logins  # no login for every clinic's clinicians any more
    assert "kinetic-web-clinic" not in logins  # nor one web login for every clinic's view
    for clinic in moved:
        assert (tmp_path / "secrets" / f"mqtt_kinetic-clinic-{clinic}_password").stat().st_mode & 0o077 == 0
        assert (tmp_path / "secrets" / f"mqtt_kinetic-web-clinic-{clinic}_password").stat().st_mode & 0o077 == 0
        assert (tmp_path / "secrets" / f"influxdb_clinic_{clinic}_password").is_file()


def test_the_shipped_prescriptions_file_loads_and_is_the_one_the_services_share() -> None:
    from alerts.prompts.catalog import load_catalog
    from alerts.prompts.prescription import load_prescriptions

    catalog = {e.id for e in load_catalog(())}
    assert load_prescriptions(ROOT / "deploy" / "prescriptions" / "prescriptions.yaml", catalog) == {}
    for name in ("alerts", "web", "prescription"):
        service = SERVICES[name]
        path = service["environment"]["KINETIC_ALERTS__PRESCRIPTIONS_FILE"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"] if v.startswith("./")}
        assert mounts[path.rsplit("/", 1)[0]] == "./deploy/prescriptions", name


def test_the_alert_service_has_the_largest_cpu_share() -> None:
    """Compose's ``cpu_shares`` (an integer, 1024 when not given: the relative weight of the container's cgroup):
    under contention the prompts' service gets more than any other container (docs/deployment.md, "CPU weights")."""
    shares = {name: int(s.get("cpu_shares", 1024)) for name, s in SERVICES.items()}
    others = max(v for name, v in shares.items() if name != "alerts")
    assert shares["alerts"] >= 4 * others
