"""The per-device phone token store (ingest/phone/tokens.py): the token is seen once, only its hash is on disk, the
file is the owner's only, revoking refuses the token, another process's change is seen, a bad file says what is
expected."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from ingest.phone.tokens import TokenStore, TokenStoreError


def test_the_token_is_returned_once_and_only_its_hash_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "data" / "phone-tokens.json"
    store = TokenStore(path)
    token = store.add("ann", "ann-pixel", "android", "thigh", now_ms=1_000)
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    text = path.read_text()
    assert token not in text
    assert hashlib.sha256(token.encode()).hexdigest() in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [device] = json.loads(text)["devices"]
    assert device["created_ms"] == 1_000 and device["last_used_ms"] is None
    found = store.lookup(token)
    assert found is not None and (found.wearer, found.device, found.platform) == ("ann", "ann-pixel", "android")
    assert store.lookup(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.lookup("") is None


def test_each_device_has_its_own_token_and_revoking_one_refuses_only_it(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    first = store.add("ann", "ann-pixel", "android")
    second = store.add("ann", "ann-iphone", "ios", "trunk", standardised=True)
    other = store.add("bob", "bob-phone", "ios")
    assert len({first, second, other}) == 3
    assert [d.device for d in store.devices("ann")] == ["ann-pixel", "ann-iphone"]
    assert store.revoke("ann", "ann-pixel") is True
    assert store.revoke("ann", "ann-pixel") is False
    assert store.lookup(first) is None
    found = store.lookup(second)
    assert found is not None and found.placement == "trunk" and found.standardised
    assert store.lookup(other) is not None


def test_a_device_is_added_once_and_ids_are_checked(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    store.add("ann", "ann-pixel", "android")
    with pytest.raises(TokenStoreError, match="already has a phone 'ann-pixel': revoke it first"):
        store.add("ann", "ann-pixel", "ios")
    with pytest.raises(TokenStoreError, match="device"):
        store.add("ann", "Ann Pixel", "android")


def test_a_change_by_another_process_is_seen_at_the_next_look(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    reader, writer = TokenStore(path), TokenStore(path)  # as kinetic phone and the web app hold it
    assert reader.devices() == []
    token = writer.add("ann", "ann-pixel", "android")
    assert reader.lookup(token) is not None
    writer.revoke("ann", "ann-pixel")
    assert reader.lookup(token) is None


def test_last_use_is_noted(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    store.add("ann", "ann-pixel", "android", now_ms=1_000)
    store.touch("ann", "ann-pixel", now_ms=5_000)
    store.touch("ann", "gone", now_ms=6_000)  # revoked meanwhile: nothing
    [device] = store.devices()
    assert device.last_used_ms == 5_000
    assert stat.S_IMODE((tmp_path / "t.json").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "content",
    ["not json", '{"version": 2, "devices": []}', '{"version": 1, "devices": [{"wearer": "ann"}]}', "[]"],
)
def test_a_bad_file_is_a_clear_error_naming_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(content)
    store = TokenStore(path)
    with pytest.raises(TokenStoreError) as caught:
        store.lookup("x" * 43)
    message = str(caught.value)
    assert str(path) in message and "expected JSON" in message and "kinetic phone token add" in message
    with pytest.raises(TokenStoreError):
        store.add("ann", "ann-pixel", "android")  # nothing overwritten
    assert path.read_text() == content


def test_an_empty_file_is_no_tokens(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.touch()
    os.chmod(path, 0o600)
    assert TokenStore(path).devices() == []
