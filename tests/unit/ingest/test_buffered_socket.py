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


def read_all(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    out = b""
    while True:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return out
        if not data:
            return out
        out += data


def test_writes_are_kept_until_flushed_then_go_in_order() -> None:
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        sock = BufferedSocket(b)
        packets = [bytes([0x40, 2, 0, i]) for i in range(100)]  # a hundred PUBACKs
        assert [sock.send(p) for p in packets] == [4] * 100  # all "sent", as paho expects of a socket
        assert read_all(a) == b""  # nothing on the wire yet
        assert sock.flush() is True
        assert read_all(a) == b"".join(packets)
        assert sock.flush() is True  # nothing kept: nothing to do
    finally:
        a.close()
        b.close()


def test_a_full_kernel_buffer_blocks_paho_once_the_cork_is_full_and_nothing_is_lost() -> None:
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        sock = BufferedSocket(b, cork_bytes=4096)
        sent = bytearray()
        blocked = False
        for i in range(100_000):  # until the kernel takes no more and the cork is full
            chunk = bytes([i % 251]) * 1000
            try:
                sock.send(chunk)
            except BlockingIOError:
                blocked = True
                break
            sent += chunk
        assert blocked
        assert sock.flush() is False  # the kernel still takes nothing
        got = bytearray()
        while True:  # the peer reads; what is kept goes as room is made
            got += read_all(a)
            if sock.flush():
                got += read_all(a)
                break
        assert got == sent
    finally:
        a.close()
        b.close()


def test_close_sends_what_is_kept_first() -> None:
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        sock = BufferedSocket(b)
        sock.send(b"\xe0\x00")  # a DISCONNECT: paho closes the socket right after writing it
        sock.close()
        a.settimeout(1)
        assert a.recv(10) == b"\xe0\x00"
        assert b.fileno() == -1
    finally:
        a.close()
