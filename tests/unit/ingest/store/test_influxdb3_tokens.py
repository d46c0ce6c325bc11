"""``kinetic store provision --influxdb3``: InfluxDB 3 Enterprise's ``influxdb3 create token --permission`` commands
for the same least-privilege plans as 2.x (``token_plans``). Not run against InfluxDB 3 (none here): the commands are
checked against the documented permission format ``db:NAME[,NAME...]:ACTION[,ACTION]``."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from ingest.store.access_v2 import influxdb3_token_commands, token_plans
from ingest.wall import Wall

PERMISSION = re.compile(r"^db:([A-Za-z0-9_-]+(?:,[A-Za-z0-9_-]+)*):((?:read|write)(?:,(?:read|write))?)$")


def granted(lines: list[str]) -> dict[str, set[tuple[str, str]]]:
    """Token name -> (action, database) pairs, read back from the printed commands."""
    rights: dict[str, set[tuple[str, str]]] = {}
    commands = [shlex.split(line) for line in lines if not line.startswith("#")]
    for argv in commands:
        assert argv[:3] == ["influxdb3", "create", "token"], argv
        assert argv[argv.index("--token") + 1] == "$INFLUXDB3_AUTH_TOKEN"  # the admin token, never printed
        name = argv[argv.index("--name") + 1]
        pairs = rights.setdefault(name, set())
        for i, arg in enumerate(argv):
            if arg == "--permission":
                match = PERMISSION.match(argv[i + 1])
                assert match, argv[i + 1]
                pairs |= {(a, db) for db in match[1].split(",") for a in match[2].split(",")}
    return rights


def test_each_plan_becomes_one_command_with_exactly_its_rights() -> None:
    wall = Wall("kinetic", {"ann": "physio-north", "bob": "back-clinic-south"})
    lines = influxdb3_token_commands("kinetic", wall, Path("deploy/secrets"))
    rights = granted(lines)
    assert rights == {f"kinetic-{plan.role}": set(plan.grants) for plan in token_plans("kinetic", wall)}
    every = {"kinetic", "kinetic_physio_north", "kinetic_back_clinic_south", "kinetic_private"}
    assert rights["kinetic-bridge"] == {("write", db) for db in every}
    assert rights["kinetic-web"] == {("read", db) for db in every}  # reads every database, writes none
    assert rights["kinetic-clinic_physio-north"] == {("read", "kinetic_physio_north")}
    assert rights["kinetic-operator"] == {(a, db) for db in every for a in ("read", "write")}
    assert "# clinic_physio-north: save the token it prints in deploy/secrets/influxdb_clinic_physio-north_token" in (
        "\n".join(lines)
    )


def test_without_the_wall_the_tokens_name_the_one_database() -> None:
    rights = granted(influxdb3_token_commands("kinetic", None, Path("s")))
    assert set(rights) == {"kinetic-bridge", "kinetic-reader", "kinetic-operator", "kinetic-web"}
    assert {db for pairs in rights.values() for _, db in pairs} == {"kinetic"}
