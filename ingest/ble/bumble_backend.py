"""A bleak backend on Bumble's BLE host: the unchanged bleak code of the collector talks real GATT to emulated
wearables on an in-process virtual radio (tests, demo), or to real ones through a USB dongle driven by Bumble.

    radio = VirtualRadio()
    await radio.start()
    async with BleakClient(address, backend=BumbleClient, radio=radio) as client: ...
    scanner = BleakScanner(callback, backend=BumbleScanner, radio=radio)

Everything shares one event loop: Bumble's virtual radio delivers packets on the sender's loop.
Quirks of Bumble's emulated controller are handled in ``KineticController`` (see its docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import hci
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from ingest.errors import ConfigError

_LOGGER = logging.getLogger(__name__)

CENTRAL_ADDRESS = "F0:00:00:00:00:01"
ATT_MTU = 247  # Bumble's GATT server silently truncates notifications to MTU - 3: ask for a large MTU at once

_PROPERTY_NAMES = [
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
]


class KineticController(Controller):
    """Bumble's emulated controller with two fixes for a realistic radio:

    - a scanner receives the advertiser's real scan response (Bumble's sends the advertising data again), so a
      device that, like InfiniTime, puts its name only in the scan response behaves as on air;
    - "LE Create Connection Cancel" completes (Bumble's leaves it pending: a timed-out connect would make every
      later connect fail with COMMAND_DISALLOWED).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Legacy advertising only (as the wearables we emulate): Bumble's extended path has no scan responses.
        self.le_features = hci.LeFeatureMask(self.le_features & ~hci.LeFeatureMask.LE_EXTENDED_ADVERTISING)

    def send_hci_packet(self, packet: Any) -> None:
        if isinstance(packet, hci.HCI_LE_Advertising_Report_Event):
            fixed = []
            for report in packet.reports:
                if report.event_type != hci.HCI_LE_Advertising_Report_Event.EventType.SCAN_RSP:
                    fixed.append(report)
                    continue
                sender = self.link.find_le_controller(report.address) if self.link else None
                advertiser = getattr(sender, "le_legacy_advertiser", None)
                fixed.append(
                    hci.HCI_LE_Advertising_Report_Event.Report(
                        event_type=report.event_type,
                        address_type=report.address_type,
                        address=report.address,
                        data=bytes(getattr(advertiser, "scan_response_data", b"") or b""),
                        rssi=report.rssi,
                    )
                )
            packet = hci.HCI_LE_Advertising_Report_Event(fixed)
        super().send_hci_packet(packet)

    def on_hci_le_create_connection_cancel_command(self, command: Any) -> Any:
        pending = getattr(self, "pending_le_connection", None)
        self.pending_le_connection = None
        result = hci.HCI_SUCCESS
        if pending is not None:
            # report the cancelled connection attempt as the spec says: a Connection Complete with UNKNOWN_CONNECTION
            asyncio.get_running_loop().call_soon(
                self.send_hci_packet,
                hci.HCI_LE_Connection_Complete_Event(
                    status=hci.HCI_UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                    connection_handle=0,
                    role=0,
                    peer_address_type=0,
                    peer_address=hci.Address.ANY,
                    connection_interval=0,
                    peripheral_latency=0,
                    supervision_timeout=0,
                    central_clock_accuracy=0,
                ),
            )
        return bytes([result])


async def advertise(
    device: Device, name: str | bytes, *, in_scan_response: bool = True, uuid16: int | None = None
) -> None:
    """Power an emulated peripheral on and advertise it connectable every ~20 ms (a connect completes on the
    peripheral's next advertisement; Bumble's default of 1 s would make every connect slow), legacy advertising
    (the extended path lacks scan responses). The name goes in the scan response, as InfiniTime and Polar do, or in
    the advertisement itself (bytes: exactly those, as a device with a NUL-padded or broken name sends them)."""
    await device.power_on()
    fields: list[tuple[int, bytes]] = [(AdvertisingData.FLAGS, bytes([0x06]))]
    if uuid16 is not None:
        fields.append((AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, uuid16.to_bytes(2, "little")))
    named: list[tuple[int, bytes]] = [
        (AdvertisingData.COMPLETE_LOCAL_NAME, name.encode() if isinstance(name, str) else name)
    ]
    await device.start_advertising(
        advertising_data=bytes(AdvertisingData(fields if in_scan_response else fields + named)),
        scan_response_data=bytes(AdvertisingData(named)) if in_scan_response else None,
        advertising_interval_min=20,
        advertising_interval_max=20,
        auto_restart=True,
    )


def make_device(link: LocalLink, name: str, address: str) -> Device:
    controller = KineticController(name, link=link, public_address=address)
    return Device(name=name, address=hci.Address(address), host=Host(controller, AsyncPipeSink(controller)))


class BumbleRadio:
    """The central the Bumble bleak backend drives (``radio=`` in scanner and client kwargs): shared scanning and
    one connect at a time. Subclasses provide the central."""

    central: Device

    def __init__(self) -> None:
        self.connect_lock = asyncio.Lock()  # Bumble allows one pending LE connection at a time
        self._started = False
        # Several bleak scanners may run at once (one per wearable, as BlueZ allows): scanning is shared.
        self._scan_lock = asyncio.Lock()
        self._scanners = 0
        # Bumble formats debug strings eagerly; quiet it (about half the CPU per notification otherwise)
        logging.getLogger("bumble").setLevel(logging.WARNING)

    async def start(self) -> None:
        if not self._started:
            await self.central.power_on()
            self._started = True

    async def scan_start(self) -> None:
        async with self._scan_lock:
            if self._scanners == 0:
                await self.central.start_scanning(active=True, filter_duplicates=False)
            self._scanners += 1

    async def scan_stop(self) -> None:
        async with self._scan_lock:
            self._scanners = max(0, self._scanners - 1)
            if self._scanners == 0:
                await self.central.stop_scanning()

    def scanner_kwargs(self) -> dict[str, Any]:
        """What to pass to BleakScanner (and the collector) to scan on this radio."""
        return {"backend": BumbleScanner, "radio": self}

    def client_kwargs(self) -> dict[str, Any]:
        """What to pass to BleakClient (and the collector) to connect on this radio."""
        return {"backend": BumbleClient, "radio": self}


class VirtualRadio(BumbleRadio):
    """An in-process BLE radio: one central (the collector's side) and any number of emulated peripherals."""

    def __init__(self) -> None:
        super().__init__()
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self.central = make_device(self.link, "kinetic-central", CENTRAL_ADDRESS)

    def peripheral(self, name: str, address: str) -> Device:
        return make_device(self.link, name, address)


class HardwareRadio(BumbleRadio):
    """A real controller (a USB dongle, a serial HCI board) driven by Bumble's host instead of the OS: the same
    bleak backend, without BlueZ (useful in containers). Not run here: our machines have no Bluetooth."""

    def __init__(self, transport_name: str) -> None:  # the central comes from the transport, in start()
        super().__init__()
        self.transport_name = transport_name
        self._transport: Any = None

    async def start(self) -> None:
        if self._started:
            return
        from bumble.transport import open_transport  # noqa: PLC0415

        try:
            self._transport = await open_transport(self.transport_name)
        except Exception as exc:  # Bumble raises several kinds; one line naming the setting is what a user needs
            raise ConfigError(
                f"KINETIC_COLLECTOR__BUMBLE_TRANSPORT={self.transport_name!r}: cannot open it ({exc})"
            ) from exc
        self.central = Device.with_hci(
            "kinetic-central", hci.Address(CENTRAL_ADDRESS), self._transport.source, self._transport.sink
        )
        await self.central.power_on()
        self._started = True

    async def close(self) -> None:
        if self._transport is not None:
            await self._transport.close()


def _advertisement_data(adv: Advertisement, merged: dict[int, Any]) -> AdvertisementData:
    data = adv.data
    for ad_type, value in data.ad_structures:
        merged[ad_type] = value
    name = merged.get(AdvertisingData.COMPLETE_LOCAL_NAME) or merged.get(AdvertisingData.SHORTENED_LOCAL_NAME)
    uuids: list[str] = []
    for ad_type in (
        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    ):
        if ad_type in merged:
            decoded = AdvertisingData.ad_data_to_object(ad_type, merged[ad_type])
            uuids += [_uuid_str(u) for u in decoded] if isinstance(decoded, list) else []
    manufacturer: dict[int, bytes] = {}
    if AdvertisingData.MANUFACTURER_SPECIFIC_DATA in merged:
        raw = bytes(merged[AdvertisingData.MANUFACTURER_SPECIFIC_DATA])
        if len(raw) >= 2:
            manufacturer[int.from_bytes(raw[:2], "little")] = raw[2:]
    tx = merged.get(AdvertisingData.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=bytes(name).decode("utf-8", "replace") if name else None,
        manufacturer_data=manufacturer,
        service_data={},
        service_uuids=uuids,
        tx_power=int.from_bytes(bytes(tx), "little", signed=True) if tx else None,
        rssi=adv.rssi,
        platform_data=(adv,),
    )


def _uuid_str(uuid: Any) -> str:
    text = str(uuid.to_hex_str("-") if hasattr(uuid, "to_hex_str") else uuid).lower()
    if len(text) == 4:
        return f"0000{text}-0000-1000-8000-00805f9b34fb"
    return text


class BumbleScanner(BaseBleakScanner):
    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        radio: BumbleRadio,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._radio = radio
        self._active = scanning_mode != "passive"
        self._merged: dict[str, dict[int, Any]] = {}

    async def start(self) -> None:
        await self._radio.start()
        self.seen_devices = {}
        self._merged = {}
        self._radio.central.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        try:
            await self._radio.scan_start()
        except Exception as exc:  # HCI errors from Bumble: bleak callers expect BleakError
            self._radio.central.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
            raise BleakError(f"scan failed ({exc})") from exc

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._radio.central.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self._radio.scan_stop()

    def _on_advertisement(self, adv: Advertisement) -> None:
        address = str(adv.address).split("/")[0]
        merged = self._merged.setdefault(address, {})
        data = _advertisement_data(adv, merged)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        device = self.create_or_update_device(address, address, data.local_name, adv, data)
        self.call_detection_callbacks(device, data)


class BumbleClient(BaseBleakClient):
    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        radio: BumbleRadio,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._radio = radio
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        # the address with its type, as advertised; a bare string is taken as random (how the emulators advertise)
        details = getattr(address_or_ble_device, "details", None)
        self._hci_address: hci.Address = (
            details.address
            if isinstance(details, Advertisement)
            else hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS)
        )

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return int(self._connection.att_mtu) if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        await self._radio.start()
        timeout = float(kwargs.get("timeout", self._timeout))
        async with self._radio.connect_lock:
            try:
                connection = await self._radio.central.connect(self._hci_address, timeout=timeout)
            except Exception as exc:  # bumble raises its own errors; bleak callers expect BleakError/TimeoutError
                if isinstance(exc, TimeoutError | asyncio.TimeoutError):
                    raise TimeoutError(f"{self.address}: connect timed out after {timeout:.0f}s") from exc
                raise BleakError(f"{self.address}: connect failed ({exc})") from exc
        self._connection = connection
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        peer = Peer(connection)
        self._peer = peer
        with contextlib.suppress(Exception):
            await peer.request_mtu(ATT_MTU)
        await peer.discover_services()
        services = BleakGATTServiceCollection()
        for service in peer.services:
            await service.discover_characteristics()
            bleak_service = BleakGATTService(service, service.handle, _uuid_str(service.uuid))
            services.add_service(bleak_service)
            for char in service.characteristics:
                await char.discover_descriptors()
                props = [name for bit, name in _PROPERTY_NAMES if char.properties & bit]
                bleak_char = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    _uuid_str(char.uuid),
                    props,  # type: ignore[arg-type]
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                services.add_characteristic(bleak_char)
                for desc in char.descriptors:
                    services.add_descriptor(BleakGATTDescriptor(desc, desc.handle, _uuid_str(desc.type), bleak_char))
        self.services = services

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is not None:
            self._disconnected_callback_saved = self._disconnected_callback
            with contextlib.suppress(Exception):
                await connection.disconnect()
            self._connection = None
            self._peer = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        _LOGGER.info("%s: pairing is not needed by the supported profiles; skipped", self.address)

    async def unpair(self) -> None:
        return None

    def _require(self) -> Peer:
        if self._peer is None:
            raise BleakError(f"{self.address}: not connected")
        return self._peer

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        self._require()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        return bytearray(await proxy.read_value())

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        self._require()
        proxy: DescriptorProxy = descriptor.obj
        return bytearray(await proxy.read_value())

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        self._require()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        await proxy.write_value(bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        self._require()
        proxy: DescriptorProxy = descriptor.obj
        await proxy.write_value(bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._require()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        await peer.subscribe(proxy, lambda value: callback(bytearray(value)), prefer_notify=True)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        await peer.unsubscribe(proxy)
