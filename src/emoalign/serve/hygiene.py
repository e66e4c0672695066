"""Connection hygiene for the service: deadlines, a Host allow-list, and memory given back.

* `GuardedH11Protocol` — uvicorn's HTTP/1.1 protocol plus a deadline for the request *head*:
  uvicorn times out idle keep-alive connections only after a first response, so a client that
  connects and sends nothing (or drips its headers a byte at a time) would hold a connection
  forever. Here the head must be complete ``header_timeout`` seconds after the connection opens
  (or after the previous response); otherwise the connection is closed.
* `BodyLimit` (in `emoalign.serve.limits`) also bounds the time a request *body* may take.
* `HostAllowList` — ASGI middleware answering 400 to a ``Host`` header not on the list (a web
  page on another site can otherwise reach a service on 127.0.0.1 through DNS rebinding).
* `release_memory` — glibc's ``malloc_trim(0)``: after a large decode the freed pages go back to
  the system instead of staying in the process (measured in bench/results/hostile_inputs.md).

>>> HostAllowList.parse("localhost, 127.0.0.1:8000, [::1]")
('localhost', '127.0.0.1', '::1')
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import threading
import time
from typing import Iterable

from uvicorn.protocols.http.h11_impl import H11Protocol

#: Host names a service bound to loopback answers to by default.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: Environment variable with extra allowed host names (comma-separated; ``*`` allows any).
ALLOWED_HOSTS_ENV = "EMOALIGN_ALLOWED_HOSTS"


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head (see the module docstring)."""

    header_timeout: float = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_deadline()

    def connection_lost(self, exc) -> None:
        handle = getattr(self, "_head_deadline", None)
        if handle is not None:
            handle.cancel()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        handle = getattr(self, "_head_deadline", None)
        if handle is not None:
            handle.cancel()
        self._cycle_when_armed = self.cycle
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_expired)

    def _head_expired(self) -> None:
        # A new request head since the deadline was armed starts a new cycle: then all is well.
        if self.cycle is self._cycle_when_armed and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float) -> type[GuardedH11Protocol]:
    """A `GuardedH11Protocol` subclass with its own head deadline (uvicorn takes a class)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout": float(header_timeout)})


class HostAllowList:
    """ASGI middleware: 400 unless the request's ``Host`` (without port) is allowed; ``*`` allows all."""

    def __init__(self, app, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)
        self.any = "*" in self.hosts

    @staticmethod
    def parse(value: str) -> tuple[str, ...]:
        """Host names from a comma-separated list, ports and IPv6 brackets removed."""
        out = []
        for item in value.split(","):
            item = item.strip().lower()
            if not item:
                continue
            out.append(_host_only(item))
        return tuple(dict.fromkeys(out))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket") or self.any:
            await self.app(scope, receive, send)
            return
        raw = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        host = _host_only(raw.strip().lower())
        if host in self.hosts:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": f"this service does not answer to the host name {host or '(none)'!r}; "
                                     f"start it with --allowed-host {host or 'NAME'} to allow it"}).encode()
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _host_only(value: str) -> str:
    if value.startswith("["):  # [::1]:8000
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        return value.split(":", 1)[0]
    return value


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Loopback names, the address the service is bound to (unless it is a wildcard), ``extra``
    and the names in ``$EMOALIGN_ALLOWED_HOSTS``."""
    hosts = list(LOOPBACK_HOSTS)
    if bind_host not in ("0.0.0.0", "::", ""):
        hosts.append(_host_only(bind_host.lower()))
    for item in extra:
        hosts += HostAllowList.parse(item)
    hosts += HostAllowList.parse(os.environ.get(ALLOWED_HOSTS_ENV, ""))
    return tuple(dict.fromkeys(hosts))


# -- memory ------------------------------------------------------------------------------------
_libc = None
_trim_lock = threading.Lock()
_last_trim = [0.0]


def _glibc():
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            lib.malloc_trim  # noqa: B018 - glibc only
            lib.mallopt  # noqa: B018
            _libc = lib
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def release_memory(min_interval: float = 0.5) -> bool:
    """Give freed heap memory back to the system (``malloc_trim(0)``); False where not glibc.

    Called after requests that decoded media. At most once per ``min_interval`` seconds: a trim
    walks every arena, so a burst of small requests should not pay for it each time.
    """
    libc = _glibc()
    if libc is None:
        return False
    now = time.monotonic()
    with _trim_lock:
        if now - _last_trim[0] < min_interval:
            return False
        _last_trim[0] = now
    libc.malloc_trim(0)
    return True


def fixed_mmap_threshold(nbytes: int = 4 << 20) -> bool:
    """Serve blocks of ``nbytes`` or more from their own mappings, returned to the system when freed.

    glibc otherwise raises its mmap threshold after the first large free (up to 32 MB), so later
    decoded images and clips come from the heap and their pages stay with the process.
    """
    libc = _glibc()
    if libc is None:
        return False
    M_MMAP_THRESHOLD = -3
    return bool(libc.mallopt(M_MMAP_THRESHOLD, int(nbytes)))
