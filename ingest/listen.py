"""Listening sockets of Kinetic's servers (``kinetic serve``, the callback server, ``kinetic phone``'s push
endpoint): a port that is taken or an address that is not this host's is one ConfigError naming the address and the
settings that choose it, never a traceback; their HTTPS (a certificate and its key) is ``server_tls``."""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path

from aiohttp import web

from ingest.errors import ConfigError


def listen_error(host: str, port: int, settings: str, exc: OSError) -> ConfigError:
    """The error for a listener that could not bind ``host:port`` (``exc``: the bind's error); ``settings`` names
    what chooses the address, e.g. ``"KINETIC_WEB__PORT / KINETIC_WEB__HOST"``."""
    why = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's create_server rewords strerror
    return ConfigError(f"cannot listen on {host}:{port} ({why}): choose another {settings}")


def bind_socket(host: str, port: int, settings: str) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port`` (port 0: any free one); ConfigError naming ``settings``
    when the port is taken or the address is not this host's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise listen_error(host, port, settings, exc) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def start_site(site: web.TCPSite, host: str, port: int, settings: str) -> None:
    """Start an aiohttp site; ConfigError naming ``settings`` when its address cannot be bound."""
    try:
        await site.start()
    except OSError as exc:
        raise listen_error(host, port, settings, exc) from None


def server_tls(cert: Path | None, key: Path | None, settings: str) -> ssl.SSLContext | None:
    """The server side of HTTPS for a certificate (PEM, with its chain) and its key (PEM), or None when neither is set.

    Python's server defaults (``ssl.create_default_context(Purpose.CLIENT_AUTH)``): TLS 1.2 or later, the system's
    cipher choice, no client certificates. Raises ConfigError naming ``settings`` (e.g. ``"KINETIC_WEB__TLS_CERT /
    KINETIC_WEB__TLS_KEY"``) when only one is set, a file cannot be read, or the key is not the certificate's."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError(f"settings {settings}: set both (HTTPS needs the certificate and its key) or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # the default since Python 3.10; said here, not assumed
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"settings {settings}: cannot load {cert} with {key} ({exc})") from None
    return context
