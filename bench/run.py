"""Benchmark Layanan: widget weight, chat relay, email ingestion and the dashboard.

Run ``make bench`` or ``.venv/bin/python bench/run.py [--quick] [--profile]
[--only SECTION]``. The figures are printed and appended as JSON lines to
``bench/results/<timestamp>.jsonl``. ``docs/benchmarks.md`` explains them.

Both servers run under the same uvicorn on 127.0.0.1, pinned to CPU 0, with the
load generator on CPU 1. Layanan runs as deployed by default: SQLite (WAL) under
a temporary LAYANAN_VAR_DIR and the in-memory channel layer. The two servers
alternate (ours, baseline, ours, baseline, ...) and each repetition starts a
fresh server process. Email ingestion (``ingest.py``) times the mail corpus
through the stdlib parser and through Layanan, in one worker process per
repetition, pinned to the servers' CPU. The dashboard section
(``dashboard.py``) times the dashboard's aggregates on a generated history that
is cached under ``var/bench/``.
"""

import argparse
import asyncio
import json
import logging
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import dashboard
import ingest
import load
import report
import servers
from profile_report import print_profile
from weight import measure_widget_weight

logger = logging.getLogger(__name__)

RESULTS_DIR = servers.BENCH_DIR / "results"
PACKAGES = (
    "django",
    "channels",
    "asgiref",
    "uvicorn",
    "uvloop",
    "httptools",
    "websockets",
    "nh3",
)
SETUP_TIMEOUT_SECONDS = 600.0
L1 = "chat-L1"
L2 = "chat-L2"
SECTIONS = ("weight", "relay", "ingest", "dashboard")
RELAY_REPETITIONS = 3
INGEST_REPETITIONS = 5
DASHBOARD_REPETITIONS = 20
QUICK_DASHBOARD_REPETITIONS = 5


@dataclass(frozen=True)
class Configuration:
    """A server under test and how the load generator talks to it."""

    name: str
    app: str
    app_dir: Path | None
    # Turns the server's ws:// base URL into one plan per chat.
    plans: Callable[[str], list[load.PairPlan]]
    # Highest seq each chat's sockets have received. A client sends it when it
    # connects, as the widget and console do, so that the server replays only
    # what it missed instead of every earlier run's messages.
    last_seqs: list[int]

    def remember_last_seqs(self, result: load.PhaseResult) -> None:
        for index, seq in enumerate(result.last_seq_by_pair):
            self.last_seqs[index] = max(self.last_seqs[index], seq)


# Integer options: name, default, minimum and help text.
COUNT_OPTIONS = (
    ("chats", 50, 1, "Concurrent chats in chat-L2 (default 50)."),
    ("messages", 200, 1, "Measured round trips per chat in chat-L2 (default 200)."),
    (
        "latency-messages",
        3000,
        0,
        "Measured round trips of the single chat in chat-L1, or 0 to skip it "
        "(default 3000).",
    ),
    (
        "warmup",
        20,
        0,
        "Unmeasured round trips per chat before each measurement (default 20).",
    ),
    (
        "repetitions",
        None,
        1,
        f"Repetitions of each relay server and of the ingestion pass, interleaved "
        f"(default {RELAY_REPETITIONS} for the relay, {INGEST_REPETITIONS} for "
        f"ingestion).",
    ),
    (
        "postgres-tickets",
        2_000_000,
        0,
        "Tickets of the dashboard's PostgreSQL history, or 0 to skip PostgreSQL "
        "(default 2000000). Generating 2,000,000 takes tens of minutes on 2 cores, "
        "once: later runs restore the dump under var/bench/.",
    ),
    (
        "profile-messages",
        40,
        1,
        "Measured round trips per chat in the profiled run, which is several times "
        "slower (default 40).",
    ),
)
QUICK_COUNTS = {
    "chats": 5,
    "messages": 20,
    "latency_messages": 100,
    "warmup": 5,
    "repetitions": 1,
    "profile_messages": 20,
    "postgres_tickets": 10_000,
}


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default, _minimum, help_text in COUNT_OPTIONS:
        parser.add_argument(f"--{name}", type=int, default=default, help=help_text)
    parser.add_argument(
        "--cap-seconds",
        type=float,
        default=120.0,
        help="Wall-clock cap of each warm-up and measured phase, in seconds "
        "(default 120).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Smoke run: 5 chats x 20 messages, 100 in chat-L1, 5 warm-up round "
        "trips, 1 repetition, and dashboard histories of 10,000 tickets. "
        "Overrides the counts given with it.",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="Add one chat-L2 run of Layanan under cProfile (all threads) and one "
        "profiled ingestion pass, and print where their CPU time goes. The profiles "
        "are saved next to the JSON lines.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="Run only this section. Repeat the option to run several (default: "
        f"all of {', '.join(SECTIONS)}).",
    )
    options = parser.parse_args()

    if options.quick:
        for attribute, value in QUICK_COUNTS.items():
            setattr(options, attribute, value)
    options.sections = set(options.only or SECTIONS)
    options.dashboard_repetitions = (
        QUICK_DASHBOARD_REPETITIONS if options.quick else DASHBOARD_REPETITIONS
    )
    if options.repetitions is None:
        options.ingest_repetitions = INGEST_REPETITIONS
        options.repetitions = RELAY_REPETITIONS
    else:
        options.ingest_repetitions = options.repetitions
    for name, _default, minimum, _help_text in COUNT_OPTIONS:
        value = getattr(options, name.replace("-", "_"))
        if value < minimum:
            parser.error(f"--{name} is {value}: use {minimum} or more.")
    if options.cap_seconds <= 0:
        parser.error(f"--cap-seconds is {options.cap_seconds:g}: use more than 0.")
    return options


def git_output(*arguments: str) -> str:
    executable = shutil.which("git")
    if executable is None:
        raise FileNotFoundError("git is not on PATH.")
    return subprocess.run(
        [executable, *arguments],
        cwd=servers.REPOSITORY_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout


def source_revision() -> str:
    """Return the checked-out commit and how many files under src/ differ from it."""
    try:
        commit = git_output("rev-parse", "--short", "HEAD").strip()
        changed = git_output("status", "--porcelain", "--", "src").splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} (+{len(changed)} changed under src/)" if changed else commit


def package_versions() -> dict[str, str]:
    versions = {"layanan": source_revision(), "python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def filesystem_of(path: Path) -> str:
    """Return "<type> (<device>)" of the mount that contains ``path``."""
    best = ("", "unknown", "unknown")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount_point, kind = line.split()[:3]
        inside = str(path).startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best[0]):
            best = (mount_point, kind, device)
    return f"{best[1]} ({best[2]})"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def describe_machine(var_dir: Path, pinning: str) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": cpu_model(),
        "database_filesystem": filesystem_of(var_dir),
        "load_generator": pinning,
    }


def product_environment(var_dir: Path) -> dict[str, str]:
    """Return the environment of Layanan's processes, free of the caller's LAYANAN_*."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LAYANAN_") and name != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="layanan.settings",
        LAYANAN_VAR_DIR=str(var_dir),
        LAYANAN_DEMO_PASSWORD=secrets.token_urlsafe(12),
        PYTHONUNBUFFERED="1",
    )
    return environment


def server_environment(environment: dict[str, str], port: int) -> dict[str, str]:
    return {
        **environment,
        "LAYANAN_HOST": servers.HOST,
        "LAYANAN_PORT": str(port),
        "LAYANAN_BASE_URL": f"http://{servers.HOST}:{port}",
    }


def prepare_database(
    environment: dict[str, str], chats: int, log_path: Path
) -> list[dict[str, str]]:
    """Migrate the temporary database and create the agents and chats."""
    with log_path.open("ab") as log:
        subprocess.run(
            [sys.executable, "-m", "layanan.cli", "migrate", "--verbosity", "0"],
            env=environment,
            cwd=servers.REPOSITORY_DIR,
            check=True,
            timeout=SETUP_TIMEOUT_SECONDS,
            stdout=log,
            stderr=log,
        )
        completed = subprocess.run(
            [
                sys.executable,
                str(servers.BENCH_DIR / "setup_data.py"),
                "--pairs",
                str(chats),
            ],
            env=environment,
            cwd=servers.REPOSITORY_DIR,
            check=True,
            timeout=SETUP_TIMEOUT_SECONDS,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    pairs: list[dict[str, str]] = json.loads(completed.stdout)["pairs"]
    return pairs


def layanan_plans(
    pairs: list[dict[str, str]], last_seqs: list[int]
) -> Callable[[str], list[load.PairPlan]]:
    def plans(websocket_url: str) -> list[load.PairPlan]:
        return [
            load.PairPlan(
                requester=load.Endpoint(
                    url=f"{websocket_url}/ws/chat/",
                    first_frames=(
                        json.dumps(
                            {"type": "auth", "token": pair["token"], "last_seq": seq}
                        ),
                    ),
                    ready_type="ready",
                ),
                agent=load.Endpoint(
                    url=f"{websocket_url}/ws/console/",
                    headers={"Cookie": pair["cookie"]},
                    first_frames=(
                        json.dumps(
                            {
                                "type": "subscribe",
                                "conversation": pair["conversation"],
                                "last_seq": seq,
                            }
                        ),
                    ),
                    ready_type="ready",
                ),
            )
            for pair, seq in zip(pairs, last_seqs, strict=True)
        ]

    return plans


def baseline_plans(count: int) -> Callable[[str], list[load.PairPlan]]:
    def plans(websocket_url: str) -> list[load.PairPlan]:
        return [
            load.PairPlan(
                requester=load.Endpoint(url=f"{websocket_url}/pair/{index}/requester"),
                agent=load.Endpoint(url=f"{websocket_url}/pair/{index}/agent"),
            )
            for index in range(count)
        ]

    return plans


@dataclass(frozen=True)
class RunContext:
    options: argparse.Namespace
    environment: dict[str, str]
    log_path: Path


def run_workload(
    server: servers.Server,
    plans: list[load.PairPlan],
    messages: int,
    context: RunContext,
) -> load.PhaseResult:
    return asyncio.run(
        load.run_workload(
            plans,
            origin=server.base_url,
            messages=messages,
            warmup=context.options.warmup,
            cap_seconds=context.options.cap_seconds,
            server_cpu_seconds=lambda: (
                servers.process_cpu_seconds(server.pid),
                servers.process_cpu_clock_seconds(server.pid),
            ),
        )
    )


def run_configuration(
    configuration: Configuration,
    context: RunContext,
    *,
    paths: tuple[str, ...] = (L1, L2),
    l2_messages: int | None = None,
    profile_path: Path | None = None,
) -> tuple[dict[str, load.PhaseResult], bool]:
    """Start a fresh server, run the workloads on it and stop it.

    Return the results per path and whether the server was pinned.
    """
    port = servers.free_port()
    server = servers.start_server(
        configuration.name,
        configuration.app,
        env=server_environment(context.environment, port),
        log_path=context.log_path,
        port=port,
        app_dir=configuration.app_dir,
        profile_path=profile_path,
    )
    results: dict[str, load.PhaseResult] = {}
    workloads = []
    if L1 in paths and context.options.latency_messages:
        workloads.append((L1, 1, context.options.latency_messages))
    if L2 in paths:
        workloads.append(
            (L2, context.options.chats, l2_messages or context.options.messages)
        )
    try:
        for path, chats, messages in workloads:
            plans = configuration.plans(server.websocket_url)[:chats]
            results[path] = run_workload(server, plans, messages, context)
            configuration.remember_last_seqs(results[path])
    finally:
        servers.stop_server(server)
    return results, server.pinned


def measure_weight(context: RunContext, results_file: report.ResultsFile) -> None:
    port = servers.free_port()
    server = servers.start_server(
        "layanan-weight",
        "layanan.asgi:application",
        env=server_environment(context.environment, port),
        log_path=context.log_path,
        port=port,
    )
    try:
        weight = measure_widget_weight(server.base_url)
    finally:
        servers.stop_server(server)
    report.print_weight(weight)
    report.write_weight_lines(results_file, weight)


def run_relay(
    configurations: tuple[Configuration, Configuration],
    context: RunContext,
    results_file: report.ResultsFile,
) -> None:
    """Run ours and the baseline alternately and print each run, then the summary."""
    options = context.options
    ours, baseline = configurations
    runs: dict[str, list[tuple[load.PhaseResult, load.PhaseResult]]] = {}
    print(
        f"\nChat relay: {L2} = {options.chats} chats x {options.messages} round trips, "
        f"{L1} = 1 chat x {options.latency_messages}; {options.warmup} warm-up round "
        f"trips per chat before each; cap {options.cap_seconds:g} s per phase"
    )
    for rep in range(1, options.repetitions + 1):
        ours_results, ours_pinned = run_configuration(ours, context)
        baseline_results, baseline_pinned = run_configuration(baseline, context)
        pinned = ours_pinned and baseline_pinned
        # Other work on the machine slows wall-clock figures, and the load
        # average shows how much of it there was.
        load_average = os.getloadavg()[0]
        print(
            f" repetition {rep} (servers pinned to CPU {servers.SERVER_CPU}: {pinned}; "
            f"1-minute load average at its end {load_average:.2f})"
        )
        for path in ours_results:
            pair = (ours_results[path], baseline_results[path])
            runs.setdefault(path, []).append(pair)
            print(report.format_relay_run(f"{path} {ours.name}", pair[0]))
            print(report.format_relay_run(f"{path} {baseline.name}", pair[1]))
            chats = 1 if path == L1 else options.chats
            detail = {
                "chats": chats,
                "warmup": options.warmup,
                "server_pinned": pinned,
                "load_average_1min": round(load_average, 2),
            }
            report.write_relay_lines(results_file, path, rep, pair[0], pair[1], detail)
    for path, path_runs in runs.items():
        report.print_relay_summary(path, path_runs)
    report.print_relay_targets(runs)


def run_profile(
    configuration: Configuration, context: RunContext, profile_path: Path
) -> None:
    options = context.options
    results, _pinned = run_configuration(
        configuration,
        context,
        paths=(L2,),
        l2_messages=options.profile_messages,
        profile_path=profile_path,
    )
    print(f"\nProfiled {L2} run of {configuration.name} (slower than unprofiled):")
    print(report.format_relay_run(f"{L2} {configuration.name}", results[L2]))
    if not profile_path.exists():
        print(f"  No profile was written. See {context.log_path}.")
        return
    # The profile covers the warm-up too, and the sockets' opening and closing.
    messages = options.chats * (options.profile_messages + options.warmup)
    print_profile(profile_path, messages)


def print_header(
    options: argparse.Namespace, versions: dict[str, str], machine: dict[str, Any]
) -> None:
    print(f"Layanan benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    print(
        "  versions: "
        + ", ".join(f"{name} {value}" for name, value in versions.items())
    )
    print(
        f"  machine: nproc {machine['nproc']}, kernel {machine['kernel']}, "
        f"CPU {machine['cpu']}"
    )
    print(f"  database: SQLite on {machine['database_filesystem']}")
    print(
        f"  load generator: {machine['load_generator']}; "
        f"servers: CPU {servers.SERVER_CPU} (checked per repetition below)"
    )


def run_ingest(
    context: RunContext, results_file: report.ResultsFile, work_dir: Path, stamp: str
) -> None:
    ingest.run_ingest(
        ingest.IngestContext(
            repetitions=context.options.ingest_repetitions,
            cap_seconds=context.options.cap_seconds,
            profile=context.options.profile,
            work_dir=work_dir,
            log_path=context.log_path,
            results_dir=RESULTS_DIR,
            stamp=stamp,
            environment=product_environment,
        ),
        results_file,
    )


def main() -> None:
    options = parse_arguments()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    pinning = servers.pin_load_generator()
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results_path = RESULTS_DIR / f"{stamp}.jsonl"
    with tempfile.TemporaryDirectory(prefix="layanan-bench-") as temporary:
        var_dir = Path(temporary)
        versions = package_versions()
        machine = describe_machine(var_dir, pinning)
        print_header(options, versions, machine)
        results_file = report.ResultsFile(results_path, versions, machine)
        context = RunContext(
            options=options,
            environment=product_environment(var_dir),
            log_path=RESULTS_DIR / f"{stamp}-servers.log",
        )
        if options.sections & {"weight", "relay"}:
            pairs = prepare_database(
                context.environment, options.chats, context.log_path
            )
        if "weight" in options.sections:
            measure_weight(context, results_file)
        if "relay" in options.sections:
            last_seqs = [0] * options.chats
            ours = Configuration(
                report.OURS,
                "layanan.asgi:application",
                None,
                layanan_plans(pairs, last_seqs),
                last_seqs,
            )
            baseline = Configuration(
                report.BASELINE,
                "relay_baseline:application",
                servers.BENCH_DIR,
                baseline_plans(options.chats),
                [0] * options.chats,
            )
            run_relay((ours, baseline), context, results_file)
            if options.profile:
                run_profile(ours, context, RESULTS_DIR / f"{stamp}-server.prof")
        if "ingest" in options.sections:
            run_ingest(context, results_file, var_dir / "ingest", stamp)
        if "dashboard" in options.sections:
            dashboard.run_dashboard(
                dashboard.DashboardContext(
                    quick=options.quick,
                    repetitions=options.dashboard_repetitions,
                    postgres_tickets=options.postgres_tickets,
                    log_path=context.log_path,
                ),
                results_file,
            )
    print(f"\nJSON lines: {results_path}")
    print(f"Server logs: {context.log_path}")


if __name__ == "__main__":
    main()
