from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from kinetic.settings import load_settings


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert settings.mqtt.port == 1883 and settings.alerts.sitting_threshold_min == 30
    assert settings.store.kind == "embedded"  # no InfluxDB setting: the embedded store (tests/.../test_newcomer.py)


def test_env_nested_with_double_underscore() -> None:
    settings = load_settings(
        environ={
            "KINETIC_MQTT__HOST": "broker",
            "KINETIC_ALERTS__SITTING_THRESHOLD_MIN": "45",
            "KINETIC_MQTT__TLS": "true",
        }
    )
    assert settings.mqtt.host == "broker" and settings.mqtt.tls and settings.alerts.sitting_threshold_min == 45


def test_toml_file_then_env_then_secret_files(tmp_path: Path) -> None:
    (tmp_path / "kinetic.toml").write_text('[mqtt]\nhost = "from-toml"\nport = 1884\nusername = "bridge"\n')
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "KINETIC_MQTT__PASSWORD").write_text("s3cret\n")
    (secrets / "KINETIC_INFLUX__TOKEN").write_text("tok")
    settings = load_settings(tmp_path / "kinetic.toml", secrets_dir=secrets, environ={"KINETIC_MQTT__PORT": "1885"})
    assert settings.mqtt.host == "from-toml" and settings.mqtt.port == 1885 and settings.mqtt.username == "bridge"
    assert settings.mqtt.password is not None and settings.mqtt.password.get_secret_value() == "s3cret"
    assert settings.influx.token is not None and settings.influx.token.get_secret_value() == "tok"
    assert "s3cret" not in repr(settings)


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "k.toml").write_text("[influx]\ndatabase = 'clinic'\n")
    assert load_settings(environ={"KINETIC_CONFIG": str(tmp_path / "k.toml")}).influx.database == "clinic"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"KINETIC_MQTT__PORT": "abc"}, "setting KINETIC_MQTT__PORT: Input should be a valid integer"),
        (
            {"KINETIC_MQTT__PORT": "70000"},
            "setting KINETIC_MQTT__PORT: Input should be less than or equal to 65535",
        ),
        ({"KINETIC_MQTT__PROT": "1"}, "setting KINETIC_MQTT__PROT: Extra inputs are not permitted"),
        ({"KINETIC_INFLUX__URL": "localhost:8086"}, "setting KINETIC_INFLUX__URL: String should match pattern"),
        ({"KINETIC_MQTT__CA_FILE": "/x"}, "setting KINETIC_MQTT: Value error, ca_file/cert_file are set but tls"),
        ({"KINETIC_CONFIG": "/nonexistent.toml"}, "config file /nonexistent.toml does not exist"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=environ)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_toml_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[mqtt]\nport = 'x'\n")
    with pytest.raises(ConfigError, match=r"KINETIC_MQTT__PORT \(mqtt.port in .*bad.toml\)"):
        load_settings(tmp_path / "bad.toml", environ={})
    (tmp_path / "broken.toml").write_text("[mqtt\n")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_settings(tmp_path / "broken.toml", environ={})


def kinetic(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kinetic", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )


def test_cli_bad_setting_prints_one_line_and_no_traceback() -> None:
    out = kinetic("config", env={"KINETIC_MQTT__PORT": "abc"})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "kinetic: error: setting KINETIC_MQTT__PORT: Input should be a valid integer, unable to parse string "
        "as an integer (got 'abc')"
    ]


def test_cli_scenario_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "day.yaml"
    path.write_text("wearers:\n  - wearer: ann\n    placement: thigh\n    segments:\n      - sit 1m\n      - nap 5m\n")
    out = kinetic("simulate", str(path), "--check")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert (
        out.stderr.strip() == f"kinetic: error: {path}:6: unknown activity 'nap': expected one of sit, stand, "
        "walk, stairs, lie, off, gap"
    )


def test_cli_simulate_of_a_day_the_services_would_refuse_says_so(tmp_path: Path) -> None:
    """Found by an independent try (issue 13): a scenario dated in the future was published, every frame refused by
    the services as ahead of their clock, and simulate exited 0."""
    path = tmp_path / "tomorrow.yaml"
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    path.write_text(
        f"start: {tomorrow.isoformat(timespec='seconds')}\n"
        "wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 1h]\n"
    )
    out = kinetic("simulate", str(path), "--check")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = [line for line in out.stderr.splitlines() if line.startswith("kinetic: error:")]
    assert "ahead of this host's clock" in line and "KINETIC_CLOCK__MAX_AHEAD_S" in line
    assert re.search(r"up to 2[45]\.\d\d h ahead", line)
    # without the receivers' clock check it may run; so may the same day in the past
    assert kinetic("simulate", str(path), "--check", env={"KINETIC_CLOCK__MAX_AHEAD_S": ""}).returncode == 0
    path.write_text(path.read_text().replace(tomorrow.isoformat(timespec="seconds")[:10], "2026-01-05"))
    assert kinetic("simulate", str(path), "--check").returncode == 0


def test_cli_help_lists_every_job() -> None:
    out = kinetic("--help")
    assert out.returncode == 0
    for command in ("demo", "simulate", "bridge", "alerts", "config"):
        assert command in out.stdout
    assert "time acceleration" in kinetic("simulate", "--help").stdout


def test_cli_config_masks_secrets() -> None:
    out = kinetic("config", env={"KINETIC_MQTT__PASSWORD": "hunter2"})
    assert out.returncode == 0 and "hunter2" not in out.stdout and "KINETIC_MQTT__PASSWORD=**********" in out.stdout
