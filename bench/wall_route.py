"""The wall's routing on the bridge's hot path (ingest/wall.py ``Wall.route``), against the least the bridge does with
a body anyway (split it into lines and join them), measured in the same run:

    .venv/bin/python -m bench.wall_route [--lines 100000] [--rounds 5]

Bodies of per-second feature lines, as the bridge's fast path writes them: one wearer who grants their clinic their
posture data (each line's time read: the consent changes at some time) and one who does not (the run goes whole).
Reported: lines per second of each and the ratio to the split-and-join baseline (median of the rounds).
"""

from __future__ import annotations

import argparse
import statistics
import time

from ingest.wall import Wall

T0 = 1_764_000_000_000


def body(wearer: str, lines: int) -> bytes:
    series = f"features,device={wearer}-thigh,wearer={wearer}"
    fields = 'posture="sitting",incl_deg=80.5,enmo_mg=3.2'
    return b"".join(f"{series} {fields} {T0 + i * 1000}\n".encode() for i in range(lines))


def timed(action: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    wall = Wall("kinetic", {"ann": "north", "bob": "north"})
    wall.consent.grant("ann", "north", frozenset({"posture"}), T0, None)
    for wearer, what in (("ann", "consenting patient"), ("bob", "patient without consent")):
        data = body(wearer, args.lines)
        base = timed(lambda data=data: b"".join(data.splitlines(keepends=True)), args.rounds)
        routed = timed(lambda data=data: wall.route(data), args.rounds)
        print(
            f"{what}: route {args.lines / routed:,.0f} lines/s, split+join {args.lines / base:,.0f} lines/s, "
            f"ratio {base / routed:.2f}"
        )


if __name__ == "__main__":
    main()
