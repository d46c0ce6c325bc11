"""``ingest.mqtt.BufferedSocket``: paho's reads (a byte, a byte, the body) served from one ``recv`` of what the kernel
holds, in order, with what is held told by ``pending()``; no data is BlockingIOError and a closed peer b"", as from
the socket itself."""

from __future__ import annotations

import socket

import pytest

from ingest.mqtt import BufferedSocket


def test_reads_are_served_in_order_from_one_recv_and_pending_counts_what_is_held() -> None:
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        sock = BufferedSocket(b, chunk_bytes=1024)
        packets = [bytes([0x30, 3]) + b"abc", bytes([0x30, 2]) + b"de"]
        a.sendall(b"".join(packets))
        # a local socket pair: sendall has put both packets in b's buffer, so the first recv takes them both
        assert sock.recv(1) == b"\x30" and sock.pending() == 8
        assert sock.recv(1) == b"\x03" and sock.recv(3) == b"abc" and sock.pending() == 4
        assert sock.recv(1) == b"\x30" and sock.recv(1) == b"\x02" and sock.recv(10) == b"de"
        assert sock.pending() == 0
        with pytest.raises(BlockingIOError):
            sock.recv(1)
        a.sendall(b"xyz")
        assert sock.recv(10) == b"xyz"  # a read of more than there is returns what came, holding nothing
        assert sock.pending() == 0
        assert sock.fileno() == b.fileno()  # everything else is the socket's
        a.close()
        assert sock.recv(1) == b""  # the peer closed
    finally:
        a.close()
        b.close()
