"""Start and stop the ASGI servers under test, pin CPUs and read CPU time.

Every server listens on 127.0.0.1 only, is started here as a subprocess and is
stopped by its PID: terminate, wait, then kill if it does not exit in time.
"""

import ctypes
import logging
import math
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
SERVER_CPU = 0
LOAD_GENERATOR_CPU = 1
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
BENCH_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = BENCH_DIR.parent
# Read once at import: pinning the load generator narrows this process's own set.
USABLE_CPUS = (
    frozenset(os.sched_getaffinity(0))
    if hasattr(os, "sched_getaffinity")
    else frozenset()
)
# /proc/<pid>/stat fields after the ")" that closes the command name: the first is
# field 3 (state), so utime (field 14) and stime (field 15) sit at 11 and 12.
UTIME_INDEX = 11
STIME_INDEX = 12


@dataclass
class Server:
    """One running uvicorn process and where it listens."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    pinned: bool

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def websocket_url(self) -> str:
        return f"ws://{HOST}:{self.port}"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def pinning_available() -> bool:
    if not hasattr(os, "sched_setaffinity"):
        return False
    return SERVER_CPU in USABLE_CPUS and LOAD_GENERATOR_CPU in USABLE_CPUS


def pin_load_generator() -> str:
    """Pin this process to the load generator's CPU and describe the outcome."""
    if not pinning_available():
        return f"not pinned: CPUs {SERVER_CPU} and {LOAD_GENERATOR_CPU} not both usable"
    try:
        os.sched_setaffinity(0, {LOAD_GENERATOR_CPU})
    except OSError as error:
        return f"not pinned: sched_setaffinity failed ({error})"
    if os.sched_getaffinity(0) != {LOAD_GENERATOR_CPU}:
        return "not pinned: the affinity did not take"
    return f"pinned to CPU {LOAD_GENERATOR_CPU}"


def pin_server(pid: int) -> bool:
    """Pin a freshly started server to the server CPU, and return whether it worked.

    Called right after the fork, before the interpreter has started any thread,
    so every thread the server creates later inherits the affinity.
    """
    if not pinning_available():
        return False
    try:
        os.sched_setaffinity(pid, {SERVER_CPU})
        return os.sched_getaffinity(pid) == {SERVER_CPU}
    except OSError as error:
        logger.warning("server pinning failed pid=%d error=%s", pid, error)
        return False


def uvicorn_arguments(app: str, port: int, app_dir: Path | None) -> list[str]:
    """Return uvicorn's command-line arguments, the same for every server."""
    arguments = [
        app,
        "--host",
        HOST,
        "--port",
        str(port),
        "--lifespan",
        "on",
        "--no-access-log",
        "--log-level",
        "warning",
        # `layanan run` turns per-message deflate off, so the servers do too.
        "--ws-per-message-deflate",
        "false",
    ]
    if app_dir is not None:
        arguments += ["--app-dir", str(app_dir)]
    return arguments


def start_server(
    name: str,
    app: str,
    *,
    env: dict[str, str],
    log_path: Path,
    port: int | None = None,
    app_dir: Path | None = None,
    profile_path: Path | None = None,
) -> Server:
    """Start uvicorn serving ``app`` and wait until it accepts connections.

    With ``profile_path`` the server runs under ``profile_server.py``, which
    profiles every thread with cProfile and writes the merged profile there.
    """
    port = port or free_port()
    arguments = uvicorn_arguments(app, port, app_dir)
    if profile_path is None:
        command = [sys.executable, "-m", "uvicorn", *arguments]
    else:
        wrapper = BENCH_DIR / "profile_server.py"
        command = [sys.executable, str(wrapper), str(profile_path), *arguments]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=REPOSITORY_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    pinned = pin_server(process.pid)
    server = Server(name, process, port, log_path, pinned)
    logger.info("server started name=%s pid=%d port=%d", name, process.pid, port)
    try:
        wait_until_listening(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def wait_until_listening(server: Server) -> None:
    """Return once the server accepts TCP connections; raise if it exits or hangs."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"Server {server.name} exited with code {server.process.returncode} "
                f"before listening: see {server.log_path}."
            )
        try:
            with socket.create_connection((HOST, server.port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(
        f"Server {server.name} did not listen on port {server.port} within "
        f"{START_TIMEOUT_SECONDS:.0f} s: see {server.log_path}."
    )


def stop_server(server: Server) -> None:
    """Stop the server by its PID: terminate, wait, kill after the timeout."""
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning(
                "server did not stop, killing name=%s pid=%d", server.name, process.pid
            )
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    logger.info(
        "server stopped name=%s pid=%d code=%s",
        server.name,
        process.pid,
        process.returncode,
    )


def process_cpu_seconds(pid: int) -> float:
    """Return user plus system CPU time of every thread of ``pid``, in seconds.

    The kernel counts these in clock ticks (1/SC_CLK_TCK s, usually 10 ms), so a
    short phase is measured to within a tick or two.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[UTIME_INDEX]) + int(fields[STIME_INDEX])
    return ticks / os.sysconf("SC_CLK_TCK")


def process_cpu_clock_seconds(pid: int) -> float:
    """Return the CPU time of ``pid`` from its POSIX CPU-time clock, or NaN.

    The clock has nanosecond resolution, which the tick-counted figure of
    ``process_cpu_seconds`` lacks for short phases.
    """
    clock = ctypes.c_int()
    if libc.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        return math.nan
    return time.clock_gettime(clock.value)


# The C library of this process, for clock_getcpuclockid, which Python's time
# module does not wrap.
libc = ctypes.CDLL(None, use_errno=True)
