"""What one web login costs the server (issue 20): the scrypt check of a password (``dashboards.web.logins``,
N=2**14, r=8, p=5) and, beside it, one SHA-256 of the same password as the baseline measured in the same run.

    .venv/bin/python -m bench.web_login [--runs 20]

Reported: the median and the slowest check in milliseconds, and the ratio of the median to the SHA-256 baseline's
(what a guesser pays per guess compared with a fast hash). An unknown login name costs one check too (``DUMMY``).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

from dashboards.web.logins import DUMMY, hash_password, password_matches


def _times_ms(check: object, runs: int) -> list[float]:
    assert callable(check)
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        check()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    stored = hash_password("correct horse battery staple")
    scrypt = _times_ms(lambda: password_matches("a wrong guess", stored), args.runs)
    unknown = _times_ms(lambda: password_matches("a wrong guess", DUMMY), args.runs)
    sha = _times_ms(lambda: hashlib.sha256(b"a wrong guess").digest(), args.runs)
    base = statistics.median(sha)
    for name, times in (("scrypt check", scrypt), ("unknown name (DUMMY)", unknown)):
        median = statistics.median(times)
        print(f"{name}: median {median:.1f} ms, max {max(times):.1f} ms, {median / base:,.0f} x one SHA-256")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
