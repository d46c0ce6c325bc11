"""An in-process MQTT broker (amqtt, pure Python) for ``kinetic demo`` and one-person installs.

MQTT 3.1.1 only and several times slower than Mosquitto (about 5k messages/s at QoS 1 here): fine for a
demo or a laptop, not for a clinic (see docs/deployment.md).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator

from amqtt.broker import Broker

_LOGGER = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int | None = None) -> AsyncIterator[int]:
    """Run an amqtt broker on ``host:port`` (a free port by default); yield the port."""
    port = port or free_port(host)
    # amqtt logs every connection at INFO; keep the demo's terminal for the demo.
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    _LOGGER.info("embedded broker: listening on %s:%d", host, port)
    try:
        yield port
    finally:
        await broker.shutdown()
