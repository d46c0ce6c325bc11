"""``kinetic phone token add|list|revoke``: the same store as the web app's Settings page, audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.audit import AuditLog
from ingest.phone.tokens import TokenStore
from kinetic.cli import main


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("KINETIC_PHONE__TOKENS_PATH", str(tmp_path / "tokens.json"))
    monkeypatch.setenv("KINETIC_AUDIT__PATH", str(tmp_path / "audit.sqlite"))
    monkeypatch.setenv("KINETIC_PHONE__HTTP_PORT", "8643")
    return tmp_path / "tokens.json", tmp_path / "audit.sqlite"


def test_add_list_revoke(paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tokens, audit = paths
    assert main(["phone", "token", "add", "ann", "ann-pixel", "--platform", "android"]) == 0
    out = capsys.readouterr().out
    token = out.split("token (shown once): ", 1)[1].split()[0]
    assert f"push URL: http://127.0.0.1:8643/sensorlogger/ann?token={token}" in out
    found = TokenStore(tokens).lookup(token)
    assert found is not None and found.standardised and found.placement == "thigh"
    assert main(["phone", "token", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ann\tann-pixel\tandroid\tthigh" in listed and "last used never" in listed and token not in listed
    assert main(["phone", "token", "add", "ann", "ann-pixel", "--platform", "ios"]) == 2
    assert "already has a phone 'ann-pixel'" in capsys.readouterr().err
    assert main(["phone", "token", "revoke", "ann", "ann-pixel"]) == 0
    assert TokenStore(tokens).lookup(token) is None
    assert main(["phone", "token", "revoke", "ann", "ann-pixel"]) == 1
    log = AuditLog(audit, 400)
    try:
        assert [(e["action"], e["detail"]) for e in log.for_wearer("ann")] == [
            ("phone token added", "ann-pixel"),
            ("phone token revoked", "ann-pixel"),
        ]
    finally:
        log.close()
