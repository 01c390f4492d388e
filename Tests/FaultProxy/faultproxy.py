"""A TCP proxy for fault-injection tests: the Python twin of faultproxy.c (same commands).

It listens on 127.0.0.1 (a free port, ``proxy.port``) and forwards every connection it accepts to
one upstream address on the loopback (the broker), on a thread of its own, so it can be driven from
plain and from asyncio tests alike (every command is a quick, thread-safe method call)::

    from faultproxy import FaultProxy, SERVER_TO_CLIENT

    with FaultProxy("127.0.0.1", broker_port) as proxy:
        url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2f"
        ...
        proxy.cut_all()                          # close every connection now (reset=True: RST)
        proxy.cut_after(50000, SERVER_TO_CLIENT) # forward 50000 more bytes that way, then close
        proxy.stall()                            # forward nothing; sockets stay open (silent peer)
        proxy.set_rate(2000)                     # at most 2000 bytes/s each way
        proxy.refuse()                           # stop listening: connections are refused
        proxy.resume()                           # undo stall, rate, refuse and an armed cut_after

Stalled, a side that the peer resets is closed alone: the other peer learns nothing until the
proxy resumes (as across a silent network). ``stats()`` has the counters and the
``time.monotonic()`` of the last byte forwarded each way (``last_s2c``: the last byte the client
received). Only loopback upstreams are accepted. Standard library only.
"""

from __future__ import annotations

import ipaddress
import selectors
import socket
import struct
import threading
import time

CLIENT_TO_SERVER = 1
SERVER_TO_CLIENT = 2

_BUF = 64 * 1024

__all__ = ["FaultProxy", "CLIENT_TO_SERVER", "SERVER_TO_CLIENT"]


def _loopback(host: str, port: int) -> tuple:
    if host in (None, "", "localhost"):
        host = "127.0.0.1"
    host = host.strip("[]")
    addr = ipaddress.ip_address(host)  # numeric only: no name service
    if not addr.is_loopback:
        raise ValueError(f"faultproxy: upstream {host} is not a loopback address")
    return (socket.AF_INET6 if addr.version == 6 else socket.AF_INET, (host, port))


class _Conn:
    __slots__ = ("socks", "bufs", "eof")

    def __init__(self, client: socket.socket, server: socket.socket):
        self.socks = [client, server]  # [0] client, [1] upstream
        self.bufs = [bytearray(), bytearray()]  # [0] client -> server, [1] server -> client
        self.eof = [False, False]  # the source of bufs[d] closed


class FaultProxy:
    """A controllable TCP proxy to ``upstream_host:upstream_port`` (loopback only)."""

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5672):
        self._family, self._upstream = _loopback(upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._conns: list[_Conn] = []
        self._stop = False
        self._stalled = False
        self._rate = 0
        self._tokens = [0.0, 0.0]
        self._tokens_at = time.monotonic()
        self._cut_req = self._cut_done = 0
        self._cut_reset = False
        self._cut_result = 0
        self._cut_armed = False
        self._cut_dir = 0
        self._cut_left = 0
        self._cut_fired = False
        self._refuse_wanted = False
        self._refuse_req = self._refuse_done = 0
        self._refuse_ok = True
        self._stats = dict(accepted=0, active=0, upstream_failed=0, cuts=0, bytes_c2s=0, bytes_s2c=0,
                           last_c2s=0.0, last_s2c=0.0)
        self._listener = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=f"faultproxy:{self.port}", daemon=True)
        self._thread.start()

    # ---- commands -------------------------------------------------------------------------
    def cut_all(self, reset: bool = False) -> int:
        """Closes every open connection now (both sockets; RST with reset). Returns how many."""
        with self._cond:
            self._cut_req += 1
            mine = self._cut_req
            self._cut_reset = reset
            self._wake()
            while self._cut_done < mine and not self._stop:
                self._cond.wait(1.0)
            return self._cut_result

    def cut_after(self, nbytes: int, direction: int = SERVER_TO_CLIENT) -> None:
        """Forwards exactly ``nbytes`` more bytes in ``direction`` (any connection), then closes
        that connection (FIN, so those bytes arrive). One-shot; 0 cuts at the next byte."""
        with self._lock:
            self._cut_armed = True
            self._cut_fired = False
            self._cut_dir = 1 if direction == SERVER_TO_CLIENT else 0
            self._cut_left = int(nbytes)
            self._wake()

    @property
    def cut_fired(self) -> bool:
        with self._lock:
            return self._cut_fired

    def stall(self) -> None:
        """Stops forwarding both ways on every connection, new ones too; sockets stay open."""
        with self._lock:
            self._stalled = True
            self._wake()

    def set_rate(self, bytes_per_second: int) -> None:
        """At most this many bytes per second each way (summed over connections); 0: no limit."""
        with self._lock:
            self._rate = int(bytes_per_second)
            self._tokens = [0.0, 0.0]
            self._tokens_at = time.monotonic()
            self._wake()

    def refuse(self, refuse: bool = True) -> bool:
        """True: stop listening (connections are refused); False: listen again on the same port.
        Returns False when listening again failed."""
        with self._cond:
            self._refuse_wanted = refuse
            self._refuse_req += 1
            mine = self._refuse_req
            self._wake()
            while self._refuse_done < mine and not self._stop:
                self._cond.wait(1.0)
            return self._refuse_ok

    def resume(self) -> None:
        """Clears stall, rate limit, refusal and an armed cut_after."""
        self.refuse(False)
        with self._lock:
            self._stalled = False
            self._rate = 0
            self._cut_armed = False
            self._wake()

    def stats(self) -> dict:
        with self._lock:
            return dict(self._stats)

    def wait_accepted(self, count: int, timeout: float = 10.0) -> bool:
        """Waits until at least ``count`` connections were accepted in all."""
        deadline = time.monotonic() + timeout
        while True:
            if self.stats()["accepted"] >= count:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def close(self) -> None:
        with self._cond:
            if self._stop:
                return
            self._stop = True
            self._wake()
            self._cond.notify_all()
        self._thread.join(5.0)
        for s in (self._wake_r, self._wake_w):
            s.close()

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- the proxy thread ---------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _listen(self, port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        s.setblocking(False)
        return s

    def _close_conn(self, c: _Conn, reset: bool = False) -> None:
        if c not in self._conns:
            return
        for s in c.socks:
            if s is None:
                continue
            if reset:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            s.close()
        c.socks = [None, None]
        self._conns.remove(c)
        self._stats["active"] = len(self._conns)

    def _do_commands(self) -> None:
        if self._cut_req != self._cut_done:
            n = len(self._conns)
            for c in list(self._conns):
                self._close_conn(c, self._cut_reset)
            self._stats["cuts"] += n
            self._cut_result = n
            self._cut_done = self._cut_req
            self._cond.notify_all()
        if self._refuse_req != self._refuse_done:
            ok = True
            if self._refuse_wanted and self._listener is not None:
                self._listener.close()
                self._listener = None
            elif not self._refuse_wanted and self._listener is None:
                try:
                    self._listener = self._listen(self.port)
                except OSError:
                    ok = False
            self._refuse_ok = ok
            self._refuse_done = self._refuse_req
            self._cond.notify_all()

    def _refill(self, now: float) -> None:
        if self._rate:
            cap = max(self._rate / 10.0, 1.0)
            add = self._rate * (now - self._tokens_at)
            self._tokens = [min(t + add, cap) for t in self._tokens]
        self._tokens_at = now

    def _allowance(self, d: int, want: int) -> int:
        if self._stalled:
            return 0
        if self._rate:
            t = int(self._tokens[d])
            if t < 1:
                return 0
            want = min(want, t)
        return want

    def _accept(self) -> None:
        for _ in range(64):
            if self._listener is None:
                return
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self._stats["accepted"] += 1
            try:
                server = socket.create_connection(self._upstream, timeout=2.0)
            except OSError:
                client.close()
                self._stats["upstream_failed"] += 1
                continue
            for s in (client, server):
                s.setblocking(False)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(_Conn(client, server))
            self._stats["active"] = len(self._conns)

    def _fire_cut(self, c: _Conn) -> None:
        self._cut_armed = False
        self._cut_fired = True
        self._stats["cuts"] += 1
        self._close_conn(c)
        self._cond.notify_all()

    def _pump(self, c: _Conn, d: int) -> bool:
        src, dst = c.socks[d], c.socks[1 - d]
        if src is None or dst is None:
            if not self._stalled:
                self._close_conn(c)
                return False
            return True
        buf = c.bufs[d]
        if not self._stalled and not c.eof[d] and len(buf) < _BUF:
            try:
                data = src.recv(_BUF - len(buf))
                if data:
                    buf += data
                else:
                    c.eof[d] = True
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._close_conn(c)
                return False
        if self._cut_armed and self._cut_dir == d and self._cut_left == 0 and buf:
            self._fire_cut(c)
            return False
        n = self._allowance(d, len(buf))
        if self._cut_armed and self._cut_dir == d:
            n = min(n, self._cut_left)
        if n > 0:
            try:
                w = dst.send(bytes(buf[:n]))
            except (BlockingIOError, InterruptedError):
                w = 0
            except OSError:
                self._close_conn(c)
                return False
            if w > 0:
                del buf[:w]
                if self._rate:
                    self._tokens[d] -= w
                key = "c2s" if d == 0 else "s2c"
                self._stats["bytes_" + key] += w
                self._stats["last_" + key] = time.monotonic()
                if self._cut_armed and self._cut_dir == d:
                    self._cut_left -= w
                    if self._cut_left == 0:
                        self._fire_cut(c)
                        return False
        if c.eof[d] and not buf and not self._stalled:
            self._close_conn(c)
            return False
        return True

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        with self._cond:
            while not self._stop:
                self._do_commands()
                self._refill(time.monotonic())
                waiting_for_tokens = False
                sel.register(self._wake_r, selectors.EVENT_READ, None)
                if self._listener is not None:
                    sel.register(self._listener, selectors.EVENT_READ, None)
                for c in self._conns:
                    for side in (0, 1):
                        s = c.socks[side]
                        if s is None:
                            continue
                        ev = 0
                        if not self._stalled and not c.eof[side] and len(c.bufs[side]) < _BUF:
                            ev |= selectors.EVENT_READ
                        if c.bufs[1 - side]:
                            if self._allowance(1 - side, len(c.bufs[1 - side])) > 0:
                                ev |= selectors.EVENT_WRITE
                            elif not self._stalled:
                                waiting_for_tokens = True
                        if ev:
                            sel.register(s, ev, (c, side))
                self._cond.release()
                try:
                    sel.select(0.01 if waiting_for_tokens else 0.2)
                finally:
                    self._cond.acquire()
                    for key in list(sel.get_map().values()):
                        sel.unregister(key.fileobj)
                if self._stop:
                    break
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, InterruptedError, OSError):
                    pass
                self._do_commands()
                self._refill(time.monotonic())
                if self._listener is not None:
                    self._accept()
                # a side reset by its peer while stalled: close that side only
                if self._stalled:
                    for c in list(self._conns):
                        for side in (0, 1):
                            s = c.socks[side]
                            if s is None:
                                continue
                            try:
                                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                            except OSError:
                                err = 1
                            if err:
                                s.close()
                                c.socks[side] = None
                for c in list(self._conns):
                    if self._pump(c, 0) and c in self._conns:
                        self._pump(c, 1)
            for c in list(self._conns):
                self._close_conn(c)
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._cond.notify_all()
        sel.close()
