"""A small HTTP client for the fault tests: every answer (or failure to answer) with its timing, and a pool
of client threads that keeps requests going while the tests break things."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

PROBLEM = "application/problem+json"


@dataclass
class Answer:
    url: str
    status: int  # 0: no HTTP answer at all (refused, reset, timed out)
    started: float  # time.monotonic()
    seconds: float
    content_type: str = ""
    retry_after: str | None = None
    body: bytes = b""
    error: str = ""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_problem(self) -> bool:
        return self.content_type.startswith(PROBLEM)

    def well_formed_503(self) -> bool:
        """503 as problem+json with a title, the status in the body and a whole number of seconds to wait."""
        if self.status != 503 or not self.is_problem or not (self.retry_after or "").isdigit():
            return False
        body = self.json()
        return body.get("status") == 503 and bool(body.get("title")) and bool(body.get("detail"))

    def __str__(self) -> str:
        return f"{self.status} {self.url} in {self.seconds:.2f} s {self.error or self.body[:160]!r}"


def exchange(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None, timeout: float = 20.0
) -> tuple[Answer, dict[str, str]]:
    """The answer to one request (``body`` sent as JSON) and its headers, names in lower case."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _answer(url, started, response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            payload = exc.read()
        return _answer(url, started, exc.code, exc.headers, payload)
    except OSError as exc:  # URLError included
        return Answer(url, 0, started, time.monotonic() - started, error=f"{type(exc).__name__}: {exc}"), {}


def _answer(url: str, started: float, status: int, headers: Message, payload: bytes) -> tuple[Answer, dict[str, str]]:
    content_type, retry_after = headers.get("Content-Type", ""), headers.get("Retry-After")
    answer = Answer(url, status, started, time.monotonic() - started, content_type, retry_after, payload)
    return answer, {k.lower(): v for k, v in headers.items()}


def fetch(url: str, timeout: float = 20.0, method: str = "GET", body: Any = None) -> Answer:
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return exchange(url, method, body, headers, timeout)[0]


def in_background(url: str) -> tuple[threading.Thread, list[Answer]]:
    """A GET of ``url`` in a thread of its own; its answer is appended to the list."""
    out: list[Answer] = []
    thread = threading.Thread(target=lambda: out.append(fetch(url)), daemon=True)
    thread.start()
    return thread, out


@dataclass
class Load:
    """Answers collected by the client threads, in the order they ended."""

    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def between(self, start: float, end: float) -> list[Answer]:
        """Answers to requests sent in [start, end)."""
        with self.lock:
            return [a for a in self.answers if start <= a.started < end]


@contextmanager
def clients(urls: Sequence[str], threads: int, pause: float = 0.02) -> Iterator[Load]:
    """``threads`` clients cycling through ``urls`` until the block ends (each request bounded in time)."""
    load, stop = Load(), threading.Event()

    def client(offset: int) -> None:
        i = offset
        while not stop.is_set():
            load.add(fetch(urls[i % len(urls)], timeout=20.0))
            i += 1
            stop.wait(pause)

    spread = [n * len(urls) // threads for n in range(threads)]  # clients start at different places
    workers = [threading.Thread(target=client, args=(offset,), daemon=True) for offset in spread]
    for worker in workers:
        worker.start()
    try:
        yield load
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> float:
    """Poll until ``condition()``; the monotonic time it first held (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout:.1f} s")
