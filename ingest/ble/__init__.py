"""Bluetooth LE: wearable profiles (decoders + emulators), a bleak backend on Google's Bumble (virtual radio for
tests and demos, or a USB dongle without BlueZ), and the collector."""
