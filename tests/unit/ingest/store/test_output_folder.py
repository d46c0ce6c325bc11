"""``--out`` of ``kinetic data export`` and ``kinetic report weekly``: checked before the work (and not made until
there is something to write), or one line names it and what is expected (issue 13: a traceback after the export
was made). The commands themselves, with a write that fails late (/proc as root):
tests/integration/kinetic/test_out_paths.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import ConfigError
from ingest.store.export import check_output_folder


def test_a_folder_that_exists_or_can_be_made_is_taken_and_not_made(tmp_path: Path) -> None:
    assert check_output_folder(tmp_path) == tmp_path
    out = tmp_path / "exports" / "2026"
    assert check_output_folder(out) == out and not (tmp_path / "exports").exists()


def test_a_file_where_the_folder_should_be_or_in_its_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match=r"^--out .*a-file: a file is there; a folder to write into is expected$"):
        check_output_folder(tmp_path / "a-file")
    with pytest.raises(ConfigError, match=r"^--out .*a-file/sub/x: .*a-file is a file, not a folder; "):
        check_output_folder(tmp_path / "a-file" / "sub" / "x")
