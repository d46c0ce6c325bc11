"""Small excerpts of the public labelled recordings, so that a fresh clone with nothing beside it still runs
`kinetic evaluate` on real data (issue 16). Made by ``python -m tests.support.excerpts DATA_DIR`` (DATA_DIR: the
evaluation recordings, ../shared/data); tests/fixtures/datasets/<dataset>/README.md says what each holds, its source
and its licence. Only datasets whose licence allows a copy in this repository are excerpted (pocket-phone-difronzo:
MIT); the others stay evaluation data beside it (their READMEs: CC BY 4.0 unconfirmed, or non-commercial)."""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "datasets"
# file -> (first row, rows): whole labelled 1-minute windows (segments.csv), so each rate estimate is unchanged
POCKET = {
    "user01_exp01.csv.gz": (1900, 6800),  # walking 1988-4829, sitting 5820-8658
    "user01_exp03.csv.gz": (900, 6800),  # standing 960-3797, stairs up 4791-7633
    "user03_exp05.csv.gz": (1700, 6400),  # walking 1777-4453, sitting 5377-8037
}

README = """# pocket-phone-difronzo, excerpts

Three excerpts of the pocket-phone-difronzo recordings (an Android phone in a trouser pocket, accelerometer in m/s^2
with gravity, about 47 Hz; no timestamps: the rate comes from the 1-minute labelled windows), made by
`python -m tests.support.excerpts ../shared/data` (rows: tests/support/excerpts.py), with the dataset's labels.csv:

| file | rows | windows |
|---|---|---|
{rows}

Source: GitHub `DiFronzo/LSTM-for-Human-Activity-Recognition-classification`, commit
`903b901d2b922997239e0d5df68f859f5f4239c4` (`raw data/acc_expEE_userUU.txt`, `raw data/labels.txt`).
Licence: MIT License, Copyright 2022 Andreas Lien. Test data only, not part of the package.
"""
WINDOWS = {
    "user01_exp01.csv.gz": "walking, sitting",
    "user01_exp03.csv.gz": "standing, stairs up",
    "user03_exp05.csv.gz": "walking, sitting",
}


def make(data_dir: Path, out: Path = FIXTURES) -> None:
    source = data_dir / "pocket-phone-difronzo"
    target = out / "pocket-phone-difronzo"
    (target / "recordings").mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "labels.csv", target / "labels.csv")
    rows = []
    for name, (first, count) in POCKET.items():
        with gzip.open(source / "recordings" / name, "rt", newline="") as handle:
            lines = handle.readlines()
        with gzip.GzipFile(target / "recordings" / name, "wb", mtime=0) as gz:
            gz.write("".join([lines[0], *lines[1 + first : 1 + first + count]]).encode())
        rows.append(f"| `recordings/{name}` | {first}-{first + count - 1} of the source | {WINDOWS[name]} |")
    (target / "README.md").write_text(README.format(rows="\n".join(rows)))


if __name__ == "__main__":
    make(Path(sys.argv[1]))
