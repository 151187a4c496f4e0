"""Serving a WSGI app so that no client can exhaust the daemon: a bounded pool, and timeouts on every phase.

``BoundedWSGIServer`` is werkzeug's ``BaseWSGIServer`` with its one-thread-per-connection model replaced:

- one thread (the one calling ``serve_forever``) accepts connections and reads each request, head and body, with a
  selector, so a client that never finishes its request holds a socket and a buffer, never a thread. At most
  ``max_connections`` are read at once (the oldest is dropped to admit a new one); a head must arrive within
  ``header_timeout`` and the body within ``body_timeout`` of it, or the client gets 408. A head over
  ``max_head_bytes`` is 431, a body over ``max_body_bytes`` 413 (before it is read), a body without a
  ``Content-Length`` 411;
- a complete request goes to a ``ThreadPoolExecutor`` of ``workers`` threads, which runs werkzeug's request
  handler over the bytes read (one request per connection, ``HTTP/1.0``); writing the reply must progress within
  ``write_timeout``. When ``max_queued`` requests already wait for a worker, a new one is answered 503 at once.

The daemon's thread count is therefore bounded by ``workers + 1`` whatever clients do. Refusals are JSON bodies of
the API's error shape, logged at DEBUG (a flood must not flood the log).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from vastbid.obs.api import error_body

log = structlog.get_logger("vastbid.http.server")

_READ_CHUNK = 65_536
_ACCEPT_BURST = 64
_ACCEPT_BACKOFF_SECONDS = 0.05
_ACCEPT_WARN_SECONDS = 10.0
_EXPECT = re.compile(rb"(?im)^expect:[^\n]*\n")


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """How much any client may take of the server: threads, connections, bytes and time (seconds)."""

    workers: int = 8
    """Threads running requests (the server's only threads besides the one reading requests)."""
    max_connections: int = 512
    """Connections still sending their request; the oldest is dropped to admit one more."""
    max_queued: int = 64
    """Complete requests waiting for or held by a worker; beyond it, 503."""
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    write_timeout: float = 30.0
    max_head_bytes: int = 65_536
    max_body_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        if min(self.workers, self.max_connections, self.max_queued, self.max_head_bytes) < 1:
            raise ValueError("server limits must be positive")
        if min(self.header_timeout, self.body_timeout, self.write_timeout) <= 0:
            raise ValueError("server timeouts must be positive")


class _SocketWriter(io.BufferedIOBase):
    """A write-only file over a socket that writes everything it is given (``sendall``)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        with memoryview(data) as view:
            return view.nbytes

    def fileno(self) -> int:
        return self._sock.fileno()


class BufferedRequestHandler(WSGIRequestHandler):
    """werkzeug's handler over a request already read: ``request`` is ``(socket, request bytes)``."""

    protocol_version = "HTTP/1.0"  # one request per connection: the reader thread reads each one whole

    def setup(self) -> None:
        sock, data = self.request
        self.connection = sock
        sock.settimeout(getattr(self.server, "limits", ServerLimits()).write_timeout)
        self.rfile = io.BytesIO(data)
        self.wfile = _SocketWriter(sock)


class _Pending:
    """A connection still sending its request."""

    __slots__ = ("addr", "buffer", "deadline", "head_end", "need", "sock")

    def __init__(self, sock: socket.socket, addr: Any, deadline: float) -> None:
        self.sock = sock
        self.addr = addr
        self.buffer = bytearray()
        self.deadline = deadline
        self.head_end: int | None = None
        self.need: int | None = None


def _reply_bytes(status: int, reason: str, kind: str, message: str) -> bytes:
    body = json.dumps(error_body(kind, message)).encode()
    head = (
        f"HTTP/1.0 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedWSGIServer(BaseWSGIServer):
    """``app`` served with a bounded worker pool and per-phase timeouts (see the module's docstring)."""

    multithread = False  # set per instance after werkzeug's __init__, which would switch the handler to HTTP/1.1

    def __init__(
        self,
        host: str,
        port: int,
        app: Callable[..., Iterable[bytes]],
        *,
        handler: type[BufferedRequestHandler] = BufferedRequestHandler,
        limits: ServerLimits | None = None,
    ) -> None:
        self.limits = limits or ServerLimits()
        self._pool = ThreadPoolExecutor(max_workers=self.limits.workers, thread_name_prefix="vastbid-http")
        self._pending: dict[socket.socket, _Pending] = {}
        self._lock = threading.Lock()
        self._queued: set[socket.socket] = set()
        self._busy = 0
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._wake_read, self._wake_write = socket.socketpair()
        self._accept_warned = -_ACCEPT_WARN_SECONDS
        super().__init__(host, port, app, handler=handler)  # closes everything above when it cannot bind
        self.multithread = True
        self.socket.setblocking(False)

    # --- the reader thread ------------------------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept and read requests until ``shutdown``; complete ones go to the worker pool."""
        self._stopped.clear()
        selector = selectors.DefaultSelector()
        selector.register(self.socket, selectors.EVENT_READ, "accept")
        selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        try:
            while not self._stop.is_set():
                timeout = poll_interval
                if self._pending:
                    soonest = min(pending.deadline for pending in self._pending.values())
                    timeout = max(0.0, min(timeout, soonest - time.monotonic()))
                for key, _events in selector.select(timeout):
                    if key.data == "accept":
                        self._accept(selector)
                    elif key.data == "wake":
                        self._wake_read.recv(_READ_CHUNK)
                    elif isinstance(key.data, _Pending):
                        self._read(selector, key.data)
                self._expire(selector, time.monotonic())
        finally:
            for pending in list(self._pending.values()):
                self._drop(selector, pending)
            selector.close()
            self._stopped.set()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        for _ in range(_ACCEPT_BURST):
            try:
                sock, addr = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # out of file descriptors: make room by dropping the oldest waiter
                now = time.monotonic()
                if now - self._accept_warned >= _ACCEPT_WARN_SECONDS:
                    self._accept_warned = now
                    log.warning("http_accept_failed", error=exc.strerror or type(exc).__name__)
                if self._pending:
                    self._drop(selector, next(iter(self._pending.values())))
                else:
                    self._stop.wait(_ACCEPT_BACKOFF_SECONDS)  # nothing to drop: do not spin on a full table
                return
            if len(self._pending) >= self.limits.max_connections:
                oldest = next(iter(self._pending.values()))
                log.debug("http_connection_dropped", client=oldest.addr[0], reason="too many connections")
                self._drop(selector, oldest)
            sock.setblocking(False)
            pending = _Pending(sock, addr, time.monotonic() + self.limits.header_timeout)
            self._pending[sock] = pending
            selector.register(sock, selectors.EVENT_READ, pending)

    def _read(self, selector: selectors.BaseSelector, pending: _Pending) -> None:
        try:
            chunk = pending.sock.recv(_READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self._drop(selector, pending)
            return
        if not chunk:  # the client went away
            self._drop(selector, pending)
            return
        pending.buffer += chunk
        if pending.head_end is None and not self._read_head(selector, pending):
            return
        if pending.need is not None and len(pending.buffer) >= pending.need:
            self._dispatch(selector, pending)

    def _read_head(self, selector: selectors.BaseSelector, pending: _Pending) -> bool:
        """Once the head is in: check it, learn how long the body is; ``False`` while waiting or refused."""
        buffer = pending.buffer
        ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := buffer.find(sep)) >= 0]
        limit = self.limits.max_head_bytes
        if min(ends, default=len(buffer)) > limit:
            self._refuse(selector, pending, 431, "Request Header Fields Too Large", f"the head is over {limit} bytes")
            return False
        if not ends:
            return False
        head_end = min(ends)
        headers: dict[bytes, list[bytes]] = {}
        for line in bytes(buffer[:head_end]).splitlines()[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        if any(value.lower() != b"identity" for value in headers.get(b"transfer-encoding", [])):
            self._refuse(selector, pending, 411, "Length Required", "send the body with a Content-Length")
            return False
        lengths = set(headers.get(b"content-length", [b"0"]))
        if len(lengths) != 1 or not next(iter(lengths)).isdigit() or len(next(iter(lengths))) > 12:
            self._refuse(selector, pending, 400, "Bad Request", "the Content-Length is not one whole number")
            return False
        length = int(next(iter(lengths)))
        if length > self.limits.max_body_bytes:
            message = f"the body is over {self.limits.max_body_bytes} bytes"
            self._refuse(selector, pending, 413, "Content Too Large", message, kind="too_large")
            return False
        pending.head_end = head_end
        pending.need = head_end + length
        if length and len(buffer) < pending.need:
            pending.deadline = time.monotonic() + self.limits.body_timeout
            if any(value.lower() == b"100-continue" for value in headers.get(b"expect", [])):
                # Answered here, as the body is read here; the handler must not answer it again.
                self._send_quietly(pending.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
                head = _EXPECT.sub(b"", bytes(buffer[:head_end]))
                pending.buffer = bytearray(head) + buffer[head_end:]
                pending.head_end, pending.need = len(head), len(head) + length
        return True

    def _dispatch(self, selector: selectors.BaseSelector, pending: _Pending) -> None:
        self._forget(selector, pending)
        with self._lock:
            full = self._busy >= self.limits.max_queued
            if not full:
                self._busy += 1
                self._queued.add(pending.sock)
        if full:
            self._send_quietly(pending.sock, _reply_bytes(503, "Service Unavailable", "busy", "too many requests"))
            log.debug("http_request_refused", client=pending.addr[0], status=503)
            self._close(pending.sock)
            return
        data = bytes(pending.buffer[: pending.need])
        pending.sock.setblocking(True)
        self._pool.submit(self._work, pending.sock, pending.addr, data)

    def _expire(self, selector: selectors.BaseSelector, now: float) -> None:
        for pending in [p for p in self._pending.values() if p.deadline <= now]:
            phase = "head" if pending.head_end is None else "body"
            self._refuse(selector, pending, 408, "Request Timeout", f"the request's {phase} took too long")

    def _refuse(
        self,
        selector: selectors.BaseSelector,
        pending: _Pending,
        status: int,
        reason: str,
        message: str,
        *,
        kind: str = "bad_request",
    ) -> None:
        log.debug("http_request_refused", client=pending.addr[0], status=status, reason=message)
        self._send_quietly(pending.sock, _reply_bytes(status, reason, kind, message))
        self._drop(selector, pending)

    def _forget(self, selector: selectors.BaseSelector, pending: _Pending) -> None:
        self._pending.pop(pending.sock, None)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(pending.sock)

    def _drop(self, selector: selectors.BaseSelector, pending: _Pending) -> None:
        self._forget(selector, pending)
        self._close(pending.sock)

    @staticmethod
    def _send_quietly(sock: socket.socket, data: bytes) -> None:
        with contextlib.suppress(OSError):
            sock.send(data)  # non-blocking: a client that reads nothing gets what fits in the buffer

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # the reply is sent before the end of the connection
        sock.close()

    # --- the workers ------------------------------------------------------------------------------------------

    def _work(self, sock: socket.socket, addr: Any, data: bytes) -> None:
        with self._lock:
            self._queued.discard(sock)
        try:
            handler: Any = self.RequestHandlerClass  # built on (socket, bytes), not on a bare socket
            handler((sock, data), addr, self)
        except Exception as exc:  # one request never takes a worker down
            log.warning("http_worker_failed", client=addr[0], error_class=type(exc).__name__)
        finally:
            self._close(sock)
            with self._lock:
                self._busy -= 1

    # --- lifecycle --------------------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop ``serve_forever`` and wait for it to return (requests in a worker finish on their own)."""
        self._stop.set()
        self._send_quietly(self._wake_write, b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket, cancel requests no worker has started, and let the workers go."""
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            waiting, self._queued = self._queued, set()
        for sock in waiting:
            self._close(sock)
        for sock in (self._wake_read, self._wake_write):
            sock.close()

    @property
    def busy(self) -> int:
        """Requests held by a worker or waiting for one."""
        return self._busy

    @property
    def pending(self) -> int:
        """Connections still sending their request."""
        return len(self._pending)
