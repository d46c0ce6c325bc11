"""What the collector reads from every wearable for its status: Battery Level and the Device Information strings,
and the rule for any text a device sends (those strings, advertised names). Pure.

Facts (../shared/reference/ble-profiles.md, section c.3): Device Information (0x180A) strings are UTF-8 without a
terminator: Manufacturer Name 0x2A29, Model Number 0x2A24, Firmware Revision 0x2A26. Battery Level (0x2A19) is one
uint8, 0-100 %. In the field, firmware pads strings with NUL bytes or sends a C string with garbage after the NUL,
and some devices answer 0xFF for "battery unknown".
"""

from __future__ import annotations

import unicodedata

from ingest.errors import DecodeError

BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFORMATION_SERVICE = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION = "00002a26-0000-1000-8000-00805f9b34fb"
MAX_TEXT_CHARS = 64  # DeviceStatusV1.firmware's bound (ingest/wire.py)


def device_text(raw: bytes | bytearray | str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Text from a device -> a string that is safe to publish, store and log, or DecodeError.

    The result is valid Unicode (NFC), one line of printable characters, without leading or trailing spaces, at
    most ``max_chars`` characters and never empty:

    - bytes are cut at the first NUL (padding, C strings) and must be UTF-8 (else DecodeError: a string of
      unknown encoding is refused rather than published garbled);
    - every run of whitespace (tabs, newlines, no-break spaces, ...) becomes one space;
    - other characters that do not print are removed: controls, format characters (zero-width, bidi overrides),
      private use, unassigned code points, lone surrogates;
    - a longer text is cut at ``max_chars``; nothing printable left is a DecodeError.
    """
    if isinstance(raw, str):
        text = raw.split("\x00", 1)[0]
    else:
        head = bytes(raw).split(b"\x00", 1)[0]
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"device text {head[:32].hex()}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    printable = "".join(c for c in text if c.isprintable() or c.isspace())
    words = unicodedata.normalize("NFC", printable).split()
    out = " ".join(words)[:max_chars].rstrip()
    if not out:
        raise DecodeError(f"device text {raw[:32]!r}: nothing printable")
    return out


def decode_battery(data: bytes | bytearray) -> int:
    """Battery Level -> percent; anything but one byte of 0-100 is a DecodeError (0xFF: the device does not know)."""
    if len(data) != 1 or data[0] > 100:
        raise DecodeError(f"battery level {bytes(data).hex()}: expected one byte of 0-100")
    return int(data[0])
