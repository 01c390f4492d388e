"""Self-test of faultproxy.py against a local echo server (no broker): python3 -m pytest -q Tests/FaultProxy"""

import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultproxy import FaultProxy, SERVER_TO_CLIENT, CLIENT_TO_SERVER  # noqa: E402


@pytest.fixture
def echo_port():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def handle(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def recv_exactly(s, n, timeout=5.0):
    s.settimeout(timeout)
    out = b""
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            break
        out += d
    return out


def test_forwards_and_cuts_after_n_bytes(echo_port):
    with FaultProxy("127.0.0.1", echo_port) as p:
        s = socket.create_connection(("127.0.0.1", p.port))
        s.sendall(b"hello")
        assert recv_exactly(s, 5) == b"hello"
        p.cut_after(10, SERVER_TO_CLIENT)
        s.sendall(b"x" * 100)
        assert recv_exactly(s, 100) == b"x" * 10  # then EOF
        assert p.cut_fired
        s.close()
        s = socket.create_connection(("127.0.0.1", p.port))
        assert p.wait_accepted(2)
        sent_before = p.stats()["bytes_c2s"]
        p.cut_after(3, CLIENT_TO_SERVER)
        s.sendall(b"abcdef")
        assert recv_exactly(s, 6) == b""  # the connection closed after 3 bytes went upstream
        st = p.stats()
        assert st["bytes_c2s"] - sent_before == 3 and st["cuts"] == 2


def test_stall_keeps_sockets_open_and_resume_delivers(echo_port):
    with FaultProxy("127.0.0.1", echo_port) as p:
        s = socket.create_connection(("127.0.0.1", p.port))
        assert p.wait_accepted(1)
        before = p.stats()["last_s2c"]
        p.stall()
        s.sendall(b"abc")
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(10)
        assert p.stats()["last_s2c"] == before
        p.resume()
        assert recv_exactly(s, 3) == b"abc"


def test_rate_limit(echo_port):
    with FaultProxy("127.0.0.1", echo_port) as p:
        s = socket.create_connection(("127.0.0.1", p.port))
        p.set_rate(2000)
        t = time.monotonic()
        s.sendall(b"y" * 4000)
        assert recv_exactly(s, 4000, 10) == b"y" * 4000
        assert time.monotonic() - t > 1.0


def test_cut_all_and_refuse(echo_port):
    with FaultProxy("127.0.0.1", echo_port) as p:
        s = socket.create_connection(("127.0.0.1", p.port))
        assert p.wait_accepted(1)
        assert p.cut_all(reset=True) == 1
        assert p.refuse()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", p.port), timeout=1)
        p.resume()
        s = socket.create_connection(("127.0.0.1", p.port))
        s.sendall(b"ok")
        assert recv_exactly(s, 2) == b"ok"


def test_loopback_only():
    with pytest.raises(ValueError):
        FaultProxy("10.0.0.1", 5672)
