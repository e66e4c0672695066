"""A request-body cap applied before any parsing: bodies over the limit are refused with 413.

Starlette spools multipart uploads to temporary files as they arrive, so without a cap in front a
client could fill the server's disk with one request. `BodyLimit` refuses a declared
``Content-Length`` above the limit at once and counts the bytes of a body sent without one
(chunked), stopping the request as soon as the count passes the limit.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """ASGI middleware: 413 for request bodies longer than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, body_timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: Seconds the whole body may take to arrive (a client dripping bytes holds a worker otherwise).
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                n = int(declared)
            except ValueError:
                await _reply(send, 400, "Content-Length is not a number")
                return
            if n > self.max_bytes:
                await _reply(send, 413, f"request body is {n:,} bytes; the limit is {self.max_bytes:,} bytes")
                return
        seen = 0
        limit = self.max_bytes
        deadline = None if self.body_timeout is None else time.monotonic() + self.body_timeout
        finished = False

        async def counted() -> Message:
            nonlocal seen, finished
            if deadline is None or finished:
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), max(0.001, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    raise HTTPException(408, f"the request body did not arrive within {self.body_timeout:g} s; "
                                             "send it in one go (or check the connection)") from None
            if message["type"] == "http.request":
                finished = not message.get("more_body", False)
                seen += len(message.get("body", b""))
                if seen > limit:
                    # FastAPI re-raises HTTPException from body parsing (other errors become 400).
                    raise HTTPException(413, f"request body is longer than the limit of {limit:,} bytes")
            return message

        await self.app(scope, counted, send)


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
