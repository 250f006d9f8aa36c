"""``gis-service serve`` runs its workers under a supervisor: a worker killed with SIGKILL is replaced, and
the service keeps answering meanwhile (the other worker takes the connections)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

import psutil
import pytest
from sqlalchemy import Engine

from gis_service.settings import Settings
from tests.faults.http import Answer, fetch, wait_for
from tests.serverproc import serve_command, server_process

pytestmark = pytest.mark.timeout(180)
ITEMS = "/collections/industrial_parks/items?limit=1"


def worker_processes(supervisor: int) -> list[psutil.Process]:
    """The supervisor's live workers (multiprocessing also starts a resource tracker: not a worker)."""
    found = []
    for child in psutil.Process(supervisor).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # gone meanwhile
            continue
    return found


def workers(supervisor: int) -> set[int]:
    return {process.pid for process in worker_processes(supervisor)}


def keep_asking(url: str, stop: threading.Event) -> tuple[threading.Thread, list[Answer]]:
    answers: list[Answer] = []

    def ask() -> None:
        while not stop.is_set():
            answers.append(fetch(url, timeout=10))
            stop.wait(0.02)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread, answers


def kill_and_wait_for_replacement(supervisor: int, victim: int) -> int:
    os.kill(victim, signal.SIGKILL)
    before = workers(supervisor) - {victim}
    wait_for(lambda: len(workers(supervisor) - before - {victim}) == 1, 60, step=0.1)
    (replacement,) = workers(supervisor) - before - {victim}
    return replacement


@pytest.fixture
def supervised(migrated: Settings, bundled: Engine) -> Iterator[tuple[str, int]]:
    seen: list[psutil.Process] = []
    with server_process(migrated.dsn, command=lambda port: serve_command(port, 2), timeout=60) as server:
        try:
            wait_for(lambda: len(workers(server.pid)) == 2, 30)
            yield server.base, server.pid
        finally:
            if server.process.poll() is None:
                seen = worker_processes(server.pid)
    for process in seen:  # the supervisor stops its workers; none may outlive the test
        with contextlib.suppress(psutil.Error):
            process.wait(10)
        if process.is_running():  # psutil checks the start time too: never another process with a reused pid
            process.kill()


def test_killed_workers_are_replaced_while_the_service_answers(supervised: tuple[str, int]) -> None:
    base, supervisor = supervised
    first, second = sorted(workers(supervisor))
    stop = threading.Event()
    thread, answers = keep_asking(base + ITEMS, stop)
    try:
        replacement = kill_and_wait_for_replacement(supervisor, first)
        killed_at = time.monotonic()
        # the second original worker goes too: from now on only the replacement (and its own) can answer
        wait_for(lambda: fetch(base + ITEMS).status == 200, 30)
        kill_and_wait_for_replacement(supervisor, second)
        wait_for(lambda: fetch(base + ITEMS).status == 200, 30)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert psutil.pid_exists(supervisor) and replacement in workers(supervisor)
    assert {first, second}.isdisjoint(workers(supervisor)) and len(workers(supervisor)) == 2
    after_first_kill = [a for a in answers if a.started >= killed_at]
    assert len(after_first_kill) > 5
    failed = [a for a in after_first_kill if a.status != 200]
    # Connections the second worker had open when it died may fail; every other request is answered.
    assert len(failed) <= 2, [str(a) for a in failed]
