"""A raw-socket HTTP/1.1 client: requests leave byte for byte as written (NUL, invalid UTF-8, bad ``%``
escapes, any method), over one keep-alive connection that is reopened when the server closes it.

urllib, httpx and requests normalise or refuse exactly the bytes a hostile client sends, so they cannot
test what the server does with them.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CRLF = b"\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    #: The request as sent (for failure messages).
    request: bytes = field(repr=False, default=b"")

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class RawClient:
    def __init__(self, base_url: str, *, timeout: float = 20.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, target: str | bytes, **kwargs: Any) -> Answer:
        return self.request("GET", target, **kwargs)

    def post_json(self, target: str | bytes, body: bytes | str | Any, **kwargs: Any) -> Answer:
        data = (
            body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
        )
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        return self.request("POST", target, body=data, headers=headers, **kwargs)

    def request(
        self,
        method: str,
        target: str | bytes,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send one request; a connection the server closed before answering is reopened once."""
        raw = self._encode(method, target, body, headers or {})
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                sock = self._connect()
                sock.sendall(raw)
                status, response_headers, response_body = self._read(method)
            except (ConnectionError, EmptyAnswer):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response_headers.get("connection", "").lower() == "close":
                self.close()
            return Answer(status, response_headers, response_body, time.monotonic() - started, raw)
        raise AssertionError("unreachable")

    def _encode(self, method: str, target: str | bytes, body: bytes | None, headers: dict[str, str]) -> bytes:
        path = target if isinstance(target, bytes) else target.encode("latin-1")
        lines = [method.encode() + b" " + path + b" HTTP/1.1", f"Host: {self.host}:{self.port}".encode()]
        lines += [f"{k}: {v}".encode("latin-1") for k, v in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}".encode())
        return CRLF.join(lines) + CRLF + CRLF + (body or b"")

    def _connect(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._buffer = b""
        return self._sock

    def _fill(self) -> None:
        assert self._sock is not None
        chunk = self._sock.recv(65536)
        if not chunk:
            raise EmptyAnswer
        self._buffer += chunk

    def _take_line(self) -> bytes:
        while CRLF not in self._buffer:
            self._fill()
        line, _, self._buffer = self._buffer.partition(CRLF)
        return line

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _read(self, method: str) -> tuple[int, dict[str, str], bytes]:
        status_line = self._take_line()
        status = int(status_line.split(b" ")[1])
        headers: dict[str, str] = {}
        while line := self._take_line():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status, headers, b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return status, headers, self._read_chunked()
        if "content-length" in headers:
            return status, headers, self._take(int(headers["content-length"]))
        return status, headers, self._read_to_close()

    def _read_chunked(self) -> bytes:
        body = b""
        while size := int(self._take_line().split(b";")[0], 16):
            body += self._take(size)
            self._take_line()
        while self._take_line():  # trailers
            pass
        return body

    def _read_to_close(self) -> bytes:
        try:
            while True:
                self._fill()
        except EmptyAnswer:
            pass
        body, self._buffer = self._buffer, b""
        self.close()
        return body


class EmptyAnswer(ConnectionError):
    """The server closed the connection (before or instead of an answer)."""
