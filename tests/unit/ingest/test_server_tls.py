"""``ingest.listen.server_tls`` and the settings that feed it (issue 20, item 5): no files is plain HTTP, one without
the other or a file that cannot be read is one line naming the settings (the certificate-and-key cases run against
real servers in tests/integration: test_web_tls, test_callback_tls, test_phone_tls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.web.settings import WebSettings
from ingest.errors import ConfigError
from ingest.listen import server_tls

NAMES = "KINETIC_WEB__TLS_CERT / KINETIC_WEB__TLS_KEY"


def test_no_certificate_and_no_key_is_plain_http() -> None:
    assert server_tls(None, None, NAMES) is None


def test_a_certificate_without_its_key_is_one_line_naming_the_settings() -> None:
    with pytest.raises(ConfigError, match=f"^settings {NAMES}: set both"):
        server_tls(Path("server.crt"), None, NAMES)


def test_a_file_that_cannot_be_read_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "server.crt"
    with pytest.raises(ConfigError, match=f"^settings {NAMES}: cannot load {missing} with ") as error:
        server_tls(missing, tmp_path / "server.key", NAMES)
    assert "\n" not in str(error.value)


def test_the_web_settings_take_both_or_neither() -> None:
    assert WebSettings(tls_cert=Path("a.crt"), tls_key=Path("a.key")).tls_key == Path("a.key")
    with pytest.raises(ValueError, match="KINETIC_WEB__TLS_CERT and KINETIC_WEB__TLS_KEY go together"):
        WebSettings(tls_key=Path("a.key"))
