"""Start the real service as a separate process (``uvicorn --factory``) for end-to-end and client tests.

Real clients (GDAL, QGIS, OWSLib) talk HTTP to a socket, so they need a server process, not a TestClient.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gis_service import cluster
from gis_service.settings import PROJECT_ROOT

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range: a server that takes a while to start
    (PostgreSQL, uvicorn) cannot lose it to an outgoing connection meanwhile."""
    return cluster.free_base(1)


def get_json(url: str, timeout: float = 10.0) -> tuple[int, str, Any]:
    """(status, content type, parsed body) of a GET, errors included (problem+json bodies are JSON too)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:  # an unclosed error response is a ResourceWarning, an error under our pytest settings
            body = exc.read()
        return exc.code, exc.headers.get("Content-Type", ""), json.loads(body) if body else None


def _answer(url: str) -> str | None:
    """None when ``url`` answers 200, else what it answered (or why it did not)."""
    try:
        status, _, body = get_json(url, timeout=2.0)
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if status == 200 else f"{status} {body}"


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the process for {url} exited with {process.returncode}:\n{_read(log_path)}", pytrace=False)
        last = _answer(url) or ""
        if not last:
            return
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer 200 within {timeout:.0f} s (last: {last}):\n{_read(log_path)}", pytrace=False)


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()[-20_000:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@dataclass
class ServerProcess:
    base: str
    process: subprocess.Popen[bytes]
    log_path: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return _read(self.log_path)


def uvicorn_command(port: int) -> list[str]:
    """One uvicorn process serving the app factory (no supervisor)."""
    app = ["gis_service.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "uvicorn", *app]


def serve_command(port: int, workers: int) -> list[str]:
    """``gis-service serve``: the supervisor and its workers, as ``make run`` starts them."""
    cli = str(Path(sys.executable).with_name("gis-service"))
    return [cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


@contextmanager
def answering_process(
    command: list[str], ready_url: str, env: dict[str, str], timeout: float = START_TIMEOUT_S
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run ``command`` with the whole environment ``env``; yield (the process, its log file) once ``ready_url``
    answers 200, stop it afterwards. Its output goes to the file (a pipe nobody reads would block it), shown
    when it fails to start."""
    with tempfile.NamedTemporaryFile("wb", prefix="gis-process-", suffix=".log", delete=False) as log:
        log_path = log.name
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_answering(process, ready_url, log_path, timeout)
        yield process, log_path
    finally:
        _stop(process)
        os.unlink(log_path)


@contextmanager
def server_process(
    dsn: str,
    *,
    env: dict[str, str] | None = None,
    command: Callable[[int], list[str]] = uvicorn_command,
    timeout: float = START_TIMEOUT_S,
) -> Iterator[ServerProcess]:
    """Run the service (``command(port)``, by default one uvicorn process) on a free port against ``dsn`` with
    ``env`` added to this environment; yield it once /health answers 200, stop it afterwards.

    ``GIS_LAYERS_DIR`` and the rest of the environment are passed through unchanged.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, **(env or {}), "GIS_DATABASE_URL": dsn}
    with answering_process(command(port), f"{base}/health", full_env, timeout) as (process, log_path):
        yield ServerProcess(base, process, log_path)


@contextmanager
def running_server(dsn: str, *, timeout: float = START_TIMEOUT_S) -> Iterator[str]:
    """Run ``uvicorn gis_service.main:create_app --factory`` on a free port against ``dsn``; yield its base URL."""
    with server_process(dsn, timeout=timeout) as server:
        yield server.base


def oidc_mock_command(port: int) -> list[str]:
    """``oidc-provider-mock`` as it comes: offline, any client id, users and claims set over HTTP."""
    return [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]


@contextmanager
def oidc_provider(command: Callable[[int], list[str]] = oidc_mock_command) -> Iterator[str]:
    """An OpenID provider (``command(port)``) on a free port; yield its issuer URL once discovery answers.

    A process, not the mock library's thread: its authlib warns of deprecations, which are errors in this one.
    """
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONWARNINGS": "ignore"}
    with answering_process(command(port), f"{issuer}/.well-known/openid-configuration", env):
        yield issuer
