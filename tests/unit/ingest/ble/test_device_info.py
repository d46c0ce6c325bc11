"""Text and values from devices, where they enter the collector: any bytes (a Device Information string) or any
name gives one printable, bounded line that the wire contract takes and gives back unchanged, or a DecodeError
that says why; a battery level is 0-100 or refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.ble.profiles.device_info import MAX_TEXT_CHARS, decode_battery, device_text
from ingest.errors import DecodeError
from ingest.wire import DeviceStatusV1, encode

ANY_CHARACTER = st.characters(blacklist_categories=())  # surrogates, controls, format and private-use included


def assert_safe(text: str) -> None:
    assert 1 <= len(text) <= MAX_TEXT_CHARS
    assert text == text.strip() and "  " not in text
    assert all(c.isprintable() or c == " " for c in text), ascii(text)  # no control, newline, NUL, bidi override
    text.encode("utf-8")  # no lone surrogate
    assert device_text(text) == text  # already normal: nothing further to change
    status = DeviceStatusV1(wearer="ann", device="ann-h10", state="online", firmware=text)
    assert DeviceStatusV1.model_validate_json(encode(status)).firmware == text  # the wire gives it back unchanged
    assert json.loads(encode(status))["firmware"] == text


@given(st.binary(max_size=300))
def test_any_bytes_give_a_safe_line_or_a_decode_error(data: bytes) -> None:
    try:
        text = device_text(data)
    except DecodeError as exc:
        assert str(exc).startswith("device text")
        return
    assert_safe(text)


@given(st.text(ANY_CHARACTER, max_size=200))
def test_any_name_gives_a_safe_line_or_a_decode_error(name: str) -> None:
    try:
        text = device_text(name)
    except DecodeError:
        assert not "".join(c for c in name.split("\x00", 1)[0] if c.isprintable()).strip()
        return
    assert_safe(text)


@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=MAX_TEXT_CHARS))
def test_a_plain_ascii_string_is_kept_as_it_is(text: str) -> None:
    assert device_text(text.encode()) == text


@given(st.binary(max_size=80), st.integers(1, 20), st.binary(max_size=20))
def test_nul_padding_and_what_follows_a_nul_are_not_part_of_the_string(head: bytes, pad: int, tail: bytes) -> None:
    head = head.split(b"\x00", 1)[0]
    try:
        expected = device_text(head)
    except DecodeError:
        with pytest.raises(DecodeError):
            device_text(head + b"\x00" * pad + tail)
        return
    assert device_text(head + b"\x00" * pad + tail) == expected


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"3.1.1\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "3.1.1"),  # NUL-padded Firmware Revision
        (b"1.16.0\x00\xff\xfe", "1.16.0"),  # a C string with garbage after its NUL
        (b" Polar\tElectro\r\nOy ", "Polar Electro Oy"),  # one line
        ("Polar H10 0A3B5C7D\x00\x00", "Polar H10 0A3B5C7D"),  # a NUL-padded advertised name
        ("H10\u202e\u200bkinetic", "H10kinetic"),  # a bidi override and a zero-width space do not print
        ("Cafe\u0301", "Café"),  # NFC
        ("x" * 100, "x" * MAX_TEXT_CHARS),
    ],
)
def test_what_devices_send_is_normalised(raw: bytes | str, text: str) -> None:
    assert device_text(raw) == text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"Polar\xff Electro", "not UTF-8"),
        (b"\xc3", "not UTF-8"),  # a truncated two-byte sequence
        (b"\x00\x00\x00\x00", "nothing printable"),
        (b"\x01\x02\x1b\x7f\t\r\n", "nothing printable"),  # controls and whitespace only
        ("", "nothing printable"),
    ],
)
def test_what_cannot_be_shown_is_refused_with_the_reason(raw: bytes | str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        device_text(raw)


@given(st.binary(max_size=3))
def test_battery_level_is_one_byte_of_0_to_100_or_refused(data: bytes) -> None:
    if len(data) == 1 and data[0] <= 100:
        assert decode_battery(data) == data[0]
    else:
        with pytest.raises(DecodeError, match="battery level"):
            decode_battery(data)
