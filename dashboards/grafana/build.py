"""Generates the provisioned dashboards' JSON from code (grafana-foundation-sdk, pinned in pyproject.toml).

    python -m dashboards.grafana.build           # rewrite dashboards/grafana/provisioning/dashboards/json/*.json
    python -m dashboards.grafana.build --check   # exit 1, naming the files, if the committed JSON differs

The committed files are what Grafana provisions (docker-compose.yml) and what the tests run queries from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.grafana import my_day, operations, weekly_review

PROVISIONING = Path(__file__).parent / "provisioning"
DASHBOARD_DIR = PROVISIONING / "dashboards" / "json"


def to_dict(builder: Any) -> dict[str, Any]:
    """A dashboard builder as the plain JSON model Grafana stores (panel ids numbered in order)."""
    model: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    for number, panel in enumerate(model.get("panels", []), 1):
        panel["id"] = number
    return model


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        f"{my_day.UID}.json": to_dict(my_day.build()),
        f"{weekly_review.UID}.json": to_dict(weekly_review.build()),
        f"{operations.UID}.json": to_dict(operations.build()),
    }


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


def stale(directory: Path = DASHBOARD_DIR) -> list[str]:
    """Files that differ from what the code generates, or that the code no longer generates."""
    wanted = {name: render(model) for name, model in dashboards().items()}
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    out = [n for n, text in wanted.items() if not (directory / n).is_file() or (directory / n).read_text() != text]
    return sorted(out + [n for n in present - wanted.keys()])


def write(directory: Path = DASHBOARD_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = dashboards()
    for name, model in wanted.items():
        (directory / name).write_text(render(model))
    for extra in {p.name for p in directory.glob("*.json")} - wanted.keys():
        (directory / extra).unlink()
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.grafana.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON differs from the code")
    parser.add_argument("--dir", type=Path, default=DASHBOARD_DIR, help="where the JSON files live")
    args = parser.parse_args(argv)
    if args.check:
        differing = stale(args.dir)
        if differing:
            print(
                f"dashboards out of date: {', '.join(differing)}; run `python -m dashboards.grafana.build`",
                file=sys.stderr,
            )
            return 1
        print(f"dashboards up to date ({len(dashboards())} files in {args.dir})")
        return 0
    for name in write(args.dir):
        print(f"wrote {args.dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
