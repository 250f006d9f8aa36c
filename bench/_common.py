"""Shared pieces of the side-by-side benchmarks: the bench venv, server processes, a bounded asyncio load
generator, a compiled one (wrk), CPU accounting, tables and the README sections.

Everything talks to loopback only; every loop is bounded in requests and in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEERS_VENV = BENCH / ".venv-peers"
PEERS_PY = PEERS_VENV / "bin" / "python"
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
GIS_SERVICE = ROOT / ".venv" / "bin" / "gis-service"
REQUIREMENTS = BENCH / "requirements-peers.txt"
README = BENCH / "README.md"
#: Databases other people and the test suite own: the bench refuses to touch them.
PROTECTED_DATABASES = re.compile(r"^(gis|gis_test.*)$")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---- the bench venv -----------------------------------------------------------------------------------


def in_peers_venv() -> bool:
    return Path(sys.prefix).resolve() == PEERS_VENV.resolve()


def ensure_peers_venv(python: str = "python3.11") -> None:
    """Create bench/.venv-peers from requirements-peers.txt when it is missing (never the project venv)."""
    if PEERS_PY.exists():
        return
    base = next((p for p in (python, "python3") if _which(p)), None)
    if base is None:
        sys.exit("no python3 to create bench/.venv-peers with")
    print(f"[setup] creating {PEERS_VENV.relative_to(ROOT)} ...", flush=True)
    subprocess.run([base, "-m", "venv", str(PEERS_VENV)], check=True)
    subprocess.run([str(PEERS_PY), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)


def reexec_in_peers_venv() -> None:
    """Run this script again with the bench venv's interpreter (creating the venv first if needed)."""
    if in_peers_venv():
        return
    ensure_peers_venv()
    script = Path(sys.argv[0]).resolve()
    os.execv(str(PEERS_PY), [str(PEERS_PY), str(script), *sys.argv[1:]])


def _which(name: str) -> bool:
    return subprocess.run(["sh", "-c", f"command -v {name}"], capture_output=True).returncode == 0


# ---- databases ----------------------------------------------------------------------------------------


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


def check_bench_database(url: str) -> None:
    if not url.startswith("postgresql://"):
        sys.exit(f"--db-url must be a postgresql:// URL, got {url!r}")
    name = database_name(url)
    if PROTECTED_DATABASES.match(name):
        sys.exit(f"refusing to use database {name!r}: it belongs to the service or the tests; use gis_bench")
    host = url.split("@")[-1].split("/")[0].split(":")[0]
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        sys.exit(f"the bench only talks to loopback, not {host!r}")


# ---- server processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One server process on its own loopback port; ``items`` is the items path of the parcels layer."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    items: str
    cwd: Path
    log: Path
    version: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def items_url(self) -> str:
        return self.base + self.items

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        out = self.log.open("wb")
        env = {**_base_env(), **self.env}
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        url = self.items_url + "?limit=1"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        """SIGTERM to the process this object started, then SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _base_env() -> dict[str, str]:
    """A small environment: no GIS_*, DATABASE_URL or TIPG_* leaks in from the caller's shell."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    return {k: os.environ[k] for k in keep if k in os.environ} | {"PYTHONDONTWRITEBYTECODE": "1"}


@contextlib.contextmanager
def running(servers: Sequence[Server]) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield
    finally:
        for server in servers:
            server.stop()


# ---- CPU accounting -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all its threads), from /proc; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait), from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK_TICKS


def cpu_of(pids: Sequence[int]) -> dict[int, float]:
    """CPU of the processes that are still there."""
    readings = {pid: cpu_seconds(pid) for pid in pids}
    return {pid: value for pid, value in readings.items() if value is not None}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two readings by the processes alive at the end; one first seen in ``after`` counts
    from zero, one gone by then is not counted (its share is lost, so this is a lower bound)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


# ---- load generator -----------------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0
    server_cpu: float = 0.0
    db_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    first_error: str = ""
    wire_bytes: int = 0  # as sent (Content-Length when the server gives it), ``bytes`` after decompression

    def merge(self, other: LoadResult) -> LoadResult:
        """Two runs of the same thing (rounds) as one: requests, time and CPU add up."""
        return LoadResult(
            self.requests + other.requests,
            self.errors + other.errors,
            self.seconds + other.seconds,
            self.latencies + other.latencies,
            self.bytes + other.bytes,
            self.server_cpu + other.server_cpu,
            self.db_cpu + other.db_cpu,
            self.client_cpu + other.client_cpu,
            self.machine_cpu + other.machine_cpu,
            self.first_error or other.first_error,
            self.wire_bytes + other.wire_bytes,
        )

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """Latency percentile in ms (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000

    def per_request(self, seconds: float) -> float:
        return seconds * 1000 / self.requests if self.requests else float("nan")

    @property
    def other_load(self) -> float:
        """Cores busy with anything but the server, its database backends and this client (other people's work)."""
        other = self.machine_cpu - self.server_cpu - self.db_cpu - self.client_cpu
        return max(0.0, other) / self.seconds if self.seconds else 0.0


async def run_load(
    urls: Sequence[str],
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    headers: dict[str, str],
    decompress: bool = True,
    start: int = 0,
) -> LoadResult:
    """``requests`` GETs over ``urls`` in turn (from the ``start``-th) from ``concurrency`` workers, stopping
    early at ``max_seconds``. ``decompress=False``: bodies are read as sent, not inflated (a client on the
    servers' cores would spend more inflating warm tiles than a server spends answering them)."""
    import aiohttp

    result = LoadResult(0, 0, 0.0)
    next_index, requests = start, requests + start
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=decompress) as session:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def worker() -> None:
            nonlocal next_index
            while next_index < requests and time.perf_counter() < deadline:
                url = urls[next_index % len(urls)]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    async with session.get(url, headers=headers) as response:
                        body = await response.read()
                        ok = response.status == 200
                        wire = int(response.headers.get("Content-Length") or len(body))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    body, ok, wire = b"", False, 0
                    result.first_error = result.first_error or repr(exc)
                if ok:
                    result.latencies.append(time.perf_counter() - t0)
                    result.requests += 1
                    result.bytes += len(body)
                    result.wire_bytes += wire
                else:
                    result.errors += 1
                    result.first_error = result.first_error or f"HTTP error on {url}: {body[:200]!r}"

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


# ---- compiled load generator (wrk) ---------------------------------------------------------------------

WRK_INSTALL = "apt-get install -y wrk"

#: Cycles every thread through the same paths (thread i starts at path i, steps by the thread count), sends
#: the given headers, and prints one line a parser can read: counts, then latency percentiles in microseconds.
_WRK_SCRIPT = """\
local headers = {%(headers)s}
for name, value in pairs(headers) do wrk.headers[name] = value end
local paths = {%(paths)s}
local turn, step = 0, 1
local started = 0
function setup(thread)
  thread:set("first", started)
  started = started + 1
end
function init(args)
  turn = first or 0
  step = tonumber(args[1]) or 1
end
function request()
  local path = paths[turn %% #paths + 1]
  turn = turn + step
  return wrk.format("GET", path)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result %%d %%d %%d %%d %%d %%d %%d %%d", summary.requests, summary.duration,
    summary.bytes, e.status, e.connect, e.read, e.write, e.timeout))
  for _, q in ipairs({50, 90, 95, 99}) do io.write(string.format(" %%d", latency:percentile(q))) end
  io.write("\\n")
end
"""


@dataclass
class WrkResult(LoadResult):
    """A wrk run: counts, and latency percentiles (ms) from wrk's own histogram rather than a list."""

    percentiles: dict[float, float] = field(default_factory=dict)

    def pct(self, q: float) -> float:
        return self.percentiles.get(q, float("nan"))


def find_wrk(*, install: bool = True) -> str | None:
    """The wrk binary; Debian's package is installed when it is missing and this runs as root, else None."""
    path = shutil.which("wrk")
    if path or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    print(f"[setup] installing wrk ({WRK_INSTALL}) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.run(cmd, **quiet).returncode != 0:  # type: ignore[call-overload]
        subprocess.run(["apt-get", "update", "-q"], **quiet)  # type: ignore[call-overload]
        subprocess.run(cmd, **quiet)  # type: ignore[call-overload]
    return shutil.which("wrk")


def wrk_version(wrk: str) -> str:
    """``wrk -v`` says e.g. ``wrk debian/4.1.0-3+b2 [epoll] ...``."""
    words = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split()
    return words[1].rsplit("/", 1)[-1] if len(words) > 1 else "?"


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(
    wrk: str,
    urls: Sequence[str],
    *,
    connections: int,
    seconds: int,
    headers: dict[str, str],
    threads: int = 2,
    timeout: int = 120,
) -> WrkResult:
    """``connections`` keep-alive connections from ``threads`` wrk threads cycling through ``urls`` (one origin)
    for ``seconds``. Only 2xx/3xx answers count as done (wrk counts the others apart), as do the socket errors;
    requests still in flight at the end are not counted. ``client_cpu``: wrk's CPU; ``machine_cpu``: all cores."""
    origin = urls[0].split("/", 3)
    base = "/".join(origin[:3])
    if any(not u.startswith(base + "/") for u in urls):
        raise ValueError("run_wrk takes URLs of one origin")
    threads = max(1, min(threads, connections))
    script = _WRK_SCRIPT % {
        "headers": ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()),
        "paths": ", ".join(_lua_string(u[len(base) :]) for u in urls),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-") as lua:
        lua.write(script)
        lua.flush()
        cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", f"{timeout}s"]
        cmd += ["-s", lua.name, urls[0], "--", str(threads)]
        before, machine_before = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout + 60)
        after, machine_after = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
    line = next((x for x in proc.stdout.splitlines() if x.startswith("wrk-result ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    done, micros, size, status, *socket_errors = (int(v) for v in line.split()[1:9])
    p50, p90, p95, p99 = (int(v) / 1000 for v in line.split()[9:13])
    result = WrkResult(done - status, status + sum(socket_errors), micros / 1e6, bytes=size)
    result.percentiles = {50: p50, 90: p90, 95: p95, 99: p99}
    result.client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result.machine_cpu = machine_after - machine_before
    if result.errors:
        result.first_error = (
            f"{status} non-2xx/3xx answers, socket errors (connect, read, write, timeout) {socket_errors}"
        )
    return result


@dataclass(frozen=True)
class Call:
    """One request of a write benchmark; ``expect``: the statuses that count as done."""

    method: str
    url: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    expect: tuple[int, ...] = (200,)


@dataclass
class CallsResult(LoadResult):
    """A run of calls; ``done[i]``: call i answered an expected status, ``kept[i]``: its kept header."""

    done: list[bool] = field(default_factory=list)
    kept: list[str | None] = field(default_factory=list)


async def run_calls(
    calls: Sequence[Call], *, concurrency: int, max_seconds: float, keep: str | None = None
) -> CallsResult:
    """Every call once, in order, from ``concurrency`` workers, stopping early at ``max_seconds``; the
    response header ``keep`` (Location of a create, say) is kept per call."""
    import aiohttp

    result = CallsResult(0, 0, 0.0, done=[False] * len(calls), kept=[None] * len(calls))
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(calls) and time.perf_counter() < deadline:
                index, call = next_index, calls[next_index]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    async with session.request(
                        call.method, call.url, data=call.body, headers=dict(call.headers)
                    ) as response:
                        body = await response.read()
                        status, kept = response.status, response.headers.get(keep) if keep else None
                except (aiohttp.ClientError, TimeoutError) as exc:
                    body, status, kept = repr(exc).encode(), 0, None
                if status in call.expect:
                    result.latencies.append(time.perf_counter() - t0)
                    result.requests += 1
                    result.bytes += len(body)
                    result.done[index], result.kept[index] = True, kept
                else:
                    result.errors += 1
                    result.first_error = result.first_error or f"{call.method} {call.url}: {status} {body[:200]!r}"

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


async def measured(
    run: Awaitable[CallsResult], server_pid: int, backends: Callable[[], Awaitable[Sequence[int]]]
) -> CallsResult:
    """Await ``run`` and fill in the CPU its server process, the database backends ``backends()`` lists
    (before and after), this client and the whole machine spent meanwhile."""
    db_before = cpu_of(await backends())
    server_before = cpu_of([server_pid])
    client_before, machine_before = time.process_time(), machine_busy()
    result = await run
    result.machine_cpu = machine_busy() - machine_before
    result.client_cpu = time.process_time() - client_before
    result.server_cpu = cpu_delta(server_before, cpu_of([server_pid]))
    db_pids = set(db_before) | set(await backends())
    result.db_cpu = cpu_delta(db_before, cpu_of(sorted(db_pids)))
    return result


# ---- profiling --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def pyspy(spy: Path, pid: int, raw: Path, rate: int = 400) -> Iterator[None]:
    """``py-spy record`` (GIL holder only, collapsed stacks in ``raw``) around the block. It pauses the target
    for each sample (``--nonblocking`` garbles ~15% of the stacks), so the rate is kept moderate."""
    cmd = [str(spy), "record", "--pid", str(pid), "--rate", str(rate), "--gil"]
    proc = subprocess.Popen(
        [*cmd, "--format", "raw", "--output", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(1.0)  # attached
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def summarise_stacks(text: str, requests: int, seconds: float, layers: dict[str, str]) -> str:
    """Collapsed py-spy stacks as self time by package, inclusive time by layer and the hottest functions."""
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames, n = stack.split(";"), int(count)
        total += n
        by_package[_package(frames[-1])] += n
        by_function[frames[-1].split(" (")[0] + " @ " + _package(frames[-1])] += n
        for layer in {_layer(f, layers) for f in frames} - {""}:
            inclusive[layer] += n
    if not total:
        return "no samples"
    lines = [f"{total} on-CPU samples over {requests} requests in {seconds:.1f} s", "", "self time by package:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_package.most_common(12)]
    lines += ["", "inclusive time by layer (a sample counts once per layer on its stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(12)]
    lines += ["", "hottest functions (self):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_function.most_common(15)]
    return "\n".join(lines)


def _package(frame: str) -> str:
    path = frame.rpartition("(")[2].rstrip(")")
    if "site-packages/" in path:
        return path.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if "/gis_service/" in path:
        return "gis_service/" + path.split("/gis_service/")[1].split(":")[0]
    if "/lib/python3" in path:
        return "stdlib:" + path.split("/lib/python3")[1].split("/", 1)[-1].split(":")[0]
    return path.split(":")[0] or frame


def _layer(frame: str, layers: dict[str, str]) -> str:
    package = _package(frame)
    return next((label for prefix, label in layers.items() if package.startswith(prefix)), "")


# ---- tables and README --------------------------------------------------------------------------------


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def update_readme_block(section: str, marker: str, block: str, preamble: str) -> None:
    """Replace the generated block ``marker`` inside ``## section`` of bench/README.md.

    Other sections (other people's benchmarks) and the hand-written text of this section are kept; a
    missing section is appended with ``preamble`` before the block.
    """
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    generated = f"{start}\n{block.rstrip()}\n{end}"
    text = README.read_text() if README.exists() else "# Benchmarks\n\nSide-by-side performance scripts.\n"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        README.write_text(head + generated + tail)
        return
    heading = f"## {section}"
    if heading in text:
        head, _, rest = text.partition(heading)
        following = rest.find("\n## ")
        body, tail = (rest, "") if following < 0 else (rest[:following], rest[following:])
        README.write_text(f"{head}{heading}{body.rstrip()}\n\n{generated}\n{tail}")
        return
    README.write_text(f"{text.rstrip()}\n\n{heading}\n\n{preamble.strip()}\n\n{generated}\n")
