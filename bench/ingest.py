"""Email ingestion: the stdlib parser, parse_email and ingest over the mail corpus.

``run.py`` calls ``run_ingest``. Each repetition migrates a fresh SQLite database
under its own LAYANAN_VAR_DIR and starts a fresh worker process, this file run as
``python bench/ingest.py measure``, pinned to the server CPU. The worker sets up
Django and times every message of ``tests/mail/corpus`` three ways:

- stdlib-policy-default: ``email.message_from_bytes(raw, policy=email.policy.default)``
  and ``get_payload(decode=True)`` on every part, the floor;
- ours-parse_email: ``parse_email`` alone, with no database;
- ours-ingest-sqlite: ``ingest(raw, via="pipe")``, which stores the raw file,
  parses, classifies, threads and writes the database.

The three run back to back on each message, in that order on odd repetitions and
in the reverse order on even ones. Before the measured pass, the worker runs all
three on every small message once, untimed. The warm-up's ingest is rolled back
and its files are removed, so the measured pass starts from the fresh database.

Peak memory is measured in one more fresh process per configuration and message
(``python bench/ingest.py memory``): the growth of ``ru_maxrss`` while it handles
one of the largest corpus messages, after a tiny warm-up message.
"""

import argparse
import cProfile
import email
import email.policy
import json
import math
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
import servers
from profile_report import print_profile

CORPUS_DIR = servers.REPOSITORY_DIR / "tests/mail/corpus"
PATH_ALL = "mail-ingest"
PATH_SMALL = "mail-ingest-small"
PATH_MEMORY = "mail-ingest-memory"
BASELINE = "stdlib-policy-default"
PARSE = "ours-parse_email"
INGEST = "ours-ingest-sqlite"
CONFIGS = (BASELINE, PARSE, INGEST)
# Below this raw size a message counts as small mail.
SMALL_MESSAGE_BYTES = 20_000
# How many of the largest messages the peak-memory runs take.
MEMORY_MESSAGES = 2
SLOWEST_SHOWN = 5
# Functions on ingest's path whose cumulative CPU time the profile reports, the
# whole call first: (file name suffix, function name).
INGEST_STEPS = (
    ("layanan/mail/inbound.py", "ingest"),
    ("layanan/mail/inbound.py", "store_raw"),
    ("django/db/models/query.py", "get_or_create"),
    ("layanan/mail/parsing.py", "parse_email"),
    ("layanan/mail/inbound.py", "process"),
    ("layanan/mail/inbound.py", "same_message_id"),
    ("layanan/mail/inbound.py", "find_ticket"),
    ("layanan/mail/inbound.py", "handle_new_request"),
    ("layanan/mail/inbound.py", "acknowledgement_allowed"),
    ("layanan/tickets/inbound.py", "requester_for_address"),
    ("layanan/tickets/services.py", "open_ticket"),
    ("layanan/tickets/services.py", "notify_ticket_created"),
    ("layanan/mail/outbox.py", "queue_email"),
    ("layanan/mail/threading.py", "may_send_automatic"),
    ("layanan/mail/threading.py", "automatic_mails_sent_to"),
    ("django/template/loader.py", "render_to_string"),
    ("layanan/tickets/inbound.py", "add_email_entry"),
    ("django/db/backends/utils.py", "_execute"),
    ("django/db/transaction.py", "__exit__"),
)
SETUP_TIMEOUT_SECONDS = 600.0
# Targets: small mail end to end at most this multiple of the stdlib parse, at
# least this many messages/s on one core, and peak memory at most this multiple
# of the message size.
SMALL_RATIO_TARGET = 2.0
SMALL_RATE_TARGET = 450.0
MEMORY_MULTIPLE_TARGET = 3.0
INGEST_METRICS = {
    "msgs_per_s": "messages/s",
    "msgs_per_cpu_s": "messages per CPU second",
    "ms_per_msg": "ms/message, mean",
    "p50_ms": "ms/message, p50",
    "p99_ms": "ms/message, p99",
    "cpu_ms_per_msg": "process CPU ms/message",
}
# The memory worker's warm-up message. Its Message-ID is new in every run, so
# ingest never takes it for a duplicate.
WARM_UP_MESSAGE = (
    "From: Warm-up <warm-up@bench.invalid>\r\n"
    "To: layanan@bench.invalid\r\n"
    "Subject: Warm-up\r\n"
    "Message-ID: <{token}@bench.invalid>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello.\r\n"
)


# --- corpus --------------------------------------------------------------------------


def corpus_names() -> list[str]:
    """Return the sorted messages of expected.json, or raise if one is missing."""
    expected = json.loads((CORPUS_DIR / "expected.json").read_text(encoding="utf-8"))
    names = sorted(expected)
    missing = [name for name in names if not (CORPUS_DIR / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} messages listed in expected.json are missing (first: "
            f"{missing[0]}): restore tests/mail/corpus from git."
        )
    return names


def largest_messages(names: list[str], count: int) -> list[str]:
    sizes = {name: (CORPUS_DIR / name).stat().st_size for name in names}
    return sorted(names, key=lambda name: -sizes[name])[:count]


# --- worker: runs with Django set up -----------------------------------------------


def stdlib_parse(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in message.walk():
        part.get_payload(decode=True)


def worker_functions() -> dict[str, Callable[[bytes], Any]]:
    """Return the function each configuration times, after ``django.setup()``."""
    from django.conf import settings

    from layanan.mail.inbound import ingest
    from layanan.mail.parsing import parse_email

    def parse(raw: bytes) -> Any:
        return parse_email(raw, max_attachment_bytes=settings.UPLOAD_MAX_BYTES)

    def ingest_piped(raw: bytes) -> Any:
        return ingest(raw, via="pipe")

    return {BASELINE: stdlib_parse, PARSE: parse, INGEST: ingest_piped}


def timed(function: Callable[[bytes], Any], raw: bytes) -> tuple[int, int, Any]:
    """Call ``function(raw)``, returning its wall and CPU time in ns and its result."""
    cpu_start = time.process_time_ns()
    start = time.perf_counter_ns()
    result = function(raw)
    wall = time.perf_counter_ns() - start
    return wall, time.process_time_ns() - cpu_start, result


def warm_up(
    functions: dict[str, Callable[[bytes], Any]],
    messages: list[tuple[str, bytes]],
    cap_seconds: float,
) -> tuple[int, bool]:
    """Run every configuration on the small messages once, leaving no trace.

    The ingest calls run in one transaction that is rolled back, and the raw
    files and attachments they wrote are removed: ``store_raw`` skips a file that
    exists, which would spare the measured pass its writes. Return how many
    messages were run and whether the cap cut the warm-up short.
    """
    from django.conf import settings
    from django.db import transaction

    deadline = time.monotonic() + cap_seconds
    small = [raw for _name, raw in messages if len(raw) < SMALL_MESSAGE_BYTES]
    done = 0
    with transaction.atomic():
        for raw in small:
            if time.monotonic() > deadline:
                break
            for config in CONFIGS:
                functions[config](raw)
            done += 1
        transaction.set_rollback(True)
    shutil.rmtree(Path(settings.VAR_DIR) / "mail", ignore_errors=True)
    shutil.rmtree(Path(settings.UPLOAD_ROOT), ignore_errors=True)
    return done, done < len(small)


def measure_pass(
    functions: dict[str, Callable[[bytes], Any]],
    messages: list[tuple[str, bytes]],
    order: tuple[str, ...],
    cap_seconds: float,
) -> dict[str, Any]:
    """Time each configuration on each message, interleaved, within the cap."""
    deadline = time.monotonic() + cap_seconds
    rows: list[dict[str, Any]] = []
    for name, raw in messages:
        if time.monotonic() > deadline:
            break
        row: dict[str, Any] = {"name": name, "bytes": len(raw)}
        for config in order:
            wall, cpu, result = timed(functions[config], raw)
            row[config] = [wall, cpu]
            if config == INGEST:
                row["outcome"] = str(result.outcome)
        rows.append(row)
    return {"messages": rows, "timed_out": len(rows) < len(messages)}


def read_corpus() -> list[tuple[str, bytes]]:
    return [(name, (CORPUS_DIR / name).read_bytes()) for name in corpus_names()]


def measure_command(arguments: argparse.Namespace) -> dict[str, Any]:
    messages = read_corpus()
    functions = worker_functions()
    warmed, warm_up_timed_out = warm_up(functions, messages, arguments.cap_seconds)
    order = CONFIGS if arguments.order == "forward" else tuple(reversed(CONFIGS))
    result = measure_pass(functions, messages, order, arguments.cap_seconds)
    return {
        **result,
        "expected": len(messages),
        "order": list(order),
        "warmup_messages": warmed,
        "warmup_timed_out": warm_up_timed_out,
    }


def profile_command(arguments: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then ingest the small messages alone under cProfile (CPU time).

    The large messages are left out: the stdlib parser dominates them, as the
    timed runs show, and their calls would hide where small mail's time goes.
    """
    messages = read_corpus()
    functions = worker_functions()
    warm_up(functions, messages, arguments.cap_seconds)
    small = [raw for _name, raw in messages if len(raw) < SMALL_MESSAGE_BYTES]
    deadline = time.monotonic() + arguments.cap_seconds
    profile = cProfile.Profile(time.thread_time)
    done = 0
    profile.enable()
    try:
        for raw in small:
            if time.monotonic() > deadline:
                break
            functions[INGEST](raw)
            done += 1
    finally:
        profile.disable()
    profile.dump_stats(arguments.output)
    return {"messages": done, "expected": len(small)}


def rss_kib() -> int:
    """Return this process's resident set now, in KiB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def memory_command(arguments: argparse.Namespace) -> dict[str, Any]:
    """Handle one message and report how far the peak resident set grew.

    The message's bytes are loaded before the first ru_maxrss sample, so the
    growth is what handling them adds on top of holding them.
    """
    functions = worker_functions()
    function = functions[arguments.config]
    function(WARM_UP_MESSAGE.format(token=uuid.uuid4().hex).encode("ascii"))
    raw = (CORPUS_DIR / arguments.message).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    current = rss_kib()
    wall, _cpu, _result = timed(function, raw)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports ru_maxrss in KiB.
    return {
        "message": arguments.message,
        "bytes": len(raw),
        "maxrss_before_kib": before,
        "rss_before_kib": current,
        "maxrss_after_kib": after,
        "delta_bytes": (after - before) * 1024,
        "wall_ns": wall,
    }


def worker_main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    measure = commands.add_parser("measure", help="Time one repetition.")
    measure.add_argument("--order", choices=("forward", "reverse"), required=True)
    measure.add_argument("--cap-seconds", type=float, required=True)
    profile = commands.add_parser("profile", help="Profile one ingest pass.")
    profile.add_argument("--cap-seconds", type=float, required=True)
    profile.add_argument("--output", required=True)
    memory = commands.add_parser("memory", help="Peak memory of one message.")
    memory.add_argument("--config", choices=CONFIGS, required=True)
    memory.add_argument("--message", required=True)
    arguments = parser.parse_args()

    import django

    django.setup()
    handlers = {
        "measure": measure_command,
        "profile": profile_command,
        "memory": memory_command,
    }
    output = handlers[arguments.command](arguments)
    json.dump(output, sys.stdout)
    sys.stdout.write("\n")


# --- harness: runs in run.py's process ---------------------------------------------


@dataclass(frozen=True)
class IngestContext:
    """Counts, paths and the environment that run.py passes to this section."""

    repetitions: int
    cap_seconds: float
    profile: bool
    # Parent of one LAYANAN_VAR_DIR per repetition, inside run.py's temporary
    # directory, which is removed at the end of the run.
    work_dir: Path
    log_path: Path
    results_dir: Path
    stamp: str
    # Turns a LAYANAN_VAR_DIR into the product's environment.
    environment: Callable[[Path], dict[str, str]]


@dataclass(frozen=True)
class Timing:
    wall_ns: int
    cpu_ns: int


@dataclass(frozen=True)
class MessageRun:
    name: str
    size: int
    outcome: str
    timings: dict[str, Timing]


@dataclass(frozen=True)
class Repetition:
    number: int
    messages: list[MessageRun]
    expected: int
    timed_out: bool
    pinned: bool
    load_average: float
    order: list[str]
    warmup_messages: int

    def subset(self, path: str) -> list[MessageRun]:
        if path == PATH_SMALL:
            return [run for run in self.messages if run.size < SMALL_MESSAGE_BYTES]
        return self.messages

    def slowest(self) -> MessageRun:
        return max(self.messages, key=lambda run: run.timings[INGEST].wall_ns)

    def outcomes(self) -> Counter[str]:
        return Counter(run.outcome for run in self.messages)


def ingest_metrics(runs: list[MessageRun], config: str) -> dict[str, float]:
    walls = [run.timings[config].wall_ns for run in runs]
    cpus = [run.timings[config].cpu_ns for run in runs]
    count = len(runs) or math.nan
    wall_seconds = sum(walls) / 1e9 or math.nan
    cpu_seconds = sum(cpus) / 1e9 or math.nan
    return {
        "msgs_per_s": len(runs) / wall_seconds,
        "msgs_per_cpu_s": len(runs) / cpu_seconds,
        "ms_per_msg": sum(walls) / count / 1e6,
        "p50_ms": report.percentile(walls, 0.50) / 1e6,
        "p99_ms": report.percentile(walls, 0.99) / 1e6,
        "cpu_ms_per_msg": sum(cpus) / count / 1e6,
    }


def migrate_database(environment: dict[str, str], log_path: Path) -> None:
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


def run_worker(
    arguments: list[str], environment: dict[str, str], context: IngestContext
) -> tuple[dict[str, Any], bool]:
    """Run this file as a worker on the server CPU and return its output and pinning.

    The worker's own time is bounded by the cap of each of its two phases, and
    the process by twice the cap plus the set-up time.
    """
    command = [sys.executable, str(Path(__file__).resolve()), *arguments]
    with context.log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=servers.REPOSITORY_DIR,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        pinned = servers.pin_server(process.pid)
        try:
            stdout, _stderr = process.communicate(
                timeout=2 * context.cap_seconds + SETUP_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=servers.STOP_TIMEOUT_SECONDS)
            raise
    if process.returncode != 0:
        raise RuntimeError(
            f"The ingestion worker ({arguments[0]}) failed with exit code "
            f"{process.returncode}: see {context.log_path}."
        )
    output: dict[str, Any] = json.loads(stdout)
    return output, pinned


def fresh_environment(context: IngestContext, name: str) -> dict[str, str]:
    """Migrate a new database in its own LAYANAN_VAR_DIR and return its environment."""
    var_dir = context.work_dir / name
    var_dir.mkdir(parents=True)
    environment = context.environment(var_dir)
    migrate_database(environment, context.log_path)
    return environment


def run_repetition(number: int, context: IngestContext) -> Repetition:
    environment = fresh_environment(context, f"ingest-{number}")
    order = "forward" if number % 2 else "reverse"
    output, pinned = run_worker(
        ["measure", "--order", order, "--cap-seconds", f"{context.cap_seconds:g}"],
        environment,
        context,
    )
    messages = [
        MessageRun(
            name=row["name"],
            size=row["bytes"],
            outcome=row["outcome"],
            timings={config: Timing(*row[config]) for config in CONFIGS},
        )
        for row in output["messages"]
    ]
    return Repetition(
        number=number,
        messages=messages,
        expected=output["expected"],
        timed_out=output["timed_out"] or output["warmup_timed_out"],
        pinned=pinned,
        load_average=os.getloadavg()[0],
        order=output["order"],
        warmup_messages=output["warmup_messages"],
    )


def format_ingest_run(config: str, repetition: Repetition) -> str:
    metrics = ingest_metrics(repetition.messages, config)
    status = " TIMED OUT" if repetition.timed_out else ""
    wall = sum(run.timings[config].wall_ns for run in repetition.messages) / 1e9
    return (
        f"  {config:<24} {len(repetition.messages):>3}/{repetition.expected} msgs in "
        f"{wall:6.3f} s  {metrics['msgs_per_s']:7.1f} msgs/s  "
        f"mean {metrics['ms_per_msg']:7.3f} ms  p50 {metrics['p50_ms']:7.3f} ms  "
        f"p99 {metrics['p99_ms']:8.3f} ms  CPU {metrics['cpu_ms_per_msg']:7.3f} "
        f"ms/msg{status}"
    )


def format_outcomes(outcomes: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items()))


def print_repetition(repetition: Repetition) -> None:
    print(
        f" repetition {repetition.number} (worker pinned to CPU {servers.SERVER_CPU}: "
        f"{repetition.pinned}; order {', '.join(repetition.order)}; 1-minute load "
        f"average at its end {repetition.load_average:.2f})"
    )
    for config in CONFIGS:
        print(format_ingest_run(config, repetition))
    slowest = repetition.slowest()
    print(
        f"    ingest outcomes: {format_outcomes(repetition.outcomes())}; slowest "
        f"{slowest.name} ({slowest.size:,} B) in "
        f"{slowest.timings[INGEST].wall_ns / 1e6:.1f} ms"
    )


def write_repetition_lines(
    results_file: report.ResultsFile, repetition: Repetition
) -> None:
    slowest = repetition.slowest()
    for path in (PATH_ALL, PATH_SMALL):
        runs = repetition.subset(path)
        baseline_metrics = ingest_metrics(runs, BASELINE)
        detail: dict[str, Any] = {
            "messages": len(runs),
            "corpus_messages": repetition.expected,
            "timed_out": repetition.timed_out,
            "worker_pinned": repetition.pinned,
            "order": repetition.order,
            "warmup_messages": repetition.warmup_messages,
            "load_average_1min": round(repetition.load_average, 2),
            "small_below_bytes": SMALL_MESSAGE_BYTES,
        }
        for config in CONFIGS:
            metrics = ingest_metrics(runs, config)
            line_detail = dict(detail)
            if config == INGEST:
                line_detail["outcomes"] = dict(Counter(run.outcome for run in runs))
                line_detail["slowest"] = {
                    "name": slowest.name,
                    "bytes": slowest.size,
                    "ms": round(slowest.timings[INGEST].wall_ns / 1e6, 3),
                }
            is_ours = config != BASELINE
            for metric, value in metrics.items():
                results_file.write(
                    path=path,
                    config=config,
                    metric=metric,
                    value=value,
                    baseline=BASELINE if is_ours else None,
                    baseline_value=baseline_metrics[metric] if is_ours else None,
                    rep=repetition.number,
                    detail=line_detail,
                )


def metric_ratios(
    repetitions: list[Repetition], path: str, config: str, metric: str
) -> list[float]:
    ratios = []
    for repetition in repetitions:
        runs = repetition.subset(path)
        value = ingest_metrics(runs, config)[metric]
        baseline_value = ingest_metrics(runs, BASELINE)[metric]
        ratios.append(report.ratio(value, baseline_value) or math.nan)
    return ratios


def print_summary(repetitions: list[Repetition], path: str) -> None:
    """Print median (min-max) per metric and configuration, and ours/stdlib."""
    count = len(repetitions[0].subset(path))
    print(
        f"\n{path} ({count} messages): median (min-max) over "
        f"{len(repetitions)} repetition(s); ratio = ours / {BASELINE}"
    )
    header = "".join(f" {config:<24}" for config in CONFIGS)
    print(f"  {'metric':<24}{header} {'ratio parse':<20} ratio ingest")
    for metric, label in INGEST_METRICS.items():
        cells = "".join(
            " "
            + report.spread(
                ingest_metrics(repetition.subset(path), config)[metric]
                for repetition in repetitions
            ).ljust(24)
            for config in CONFIGS
        )
        parse_ratio = report.spread(metric_ratios(repetitions, path, PARSE, metric))
        ingest_ratio = report.spread(metric_ratios(repetitions, path, INGEST, metric))
        print(f"  {label:<24}{cells} {parse_ratio:<20} {ingest_ratio}")


def print_slowest(repetitions: list[Repetition]) -> None:
    """Print the messages whose ingest took longest, by median over repetitions."""
    by_name: dict[str, list[MessageRun]] = {}
    for repetition in repetitions:
        for run in repetition.messages:
            by_name.setdefault(run.name, []).append(run)

    def median_ms(runs: list[MessageRun], config: str) -> float:
        return statistics.median(run.timings[config].wall_ns for run in runs) / 1e6

    ordered = sorted(by_name.items(), key=lambda item: -median_ms(item[1], INGEST))
    duplicates = sorted(
        name
        for name, runs in by_name.items()
        if all(run.outcome == "duplicate" for run in runs)
    )
    print(
        f"\n  Ingested as duplicates in every repetition ({len(duplicates)}; raw file "
        f"and inbound row stored, no ticket entry or attachment): "
        f"{', '.join(duplicates) or 'none'}"
    )
    slowest_names = Counter(repetition.slowest().name for repetition in repetitions)
    print(
        f"  Slowest messages to ingest (median ms; the slowest of each repetition: "
        f"{format_outcomes(slowest_names)}):"
    )
    print(f"    {'message':<44} {'bytes':>10} {'stdlib':>9} {'parse':>9} {'ingest':>9}")
    for name, runs in ordered[:SLOWEST_SHOWN]:
        print(
            f"    {name:<44} {runs[0].size:>10,} {median_ms(runs, BASELINE):>9.3f} "
            f"{median_ms(runs, PARSE):>9.3f} {median_ms(runs, INGEST):>9.3f}"
        )


def rate_verdict(value: float, target: float) -> str:
    if math.isnan(value):
        return "not measured"
    if value >= target:
        return f"met ({value:,.0f} ≥ {target:,.0f} messages/s)"
    if target >= 2 * value:
        shortfall = f"{target / value:.1f} times too few"
    else:
        shortfall = f"{1 - value / target:.0%} short"
    return f"MISSED ({value:,.0f} messages/s, {shortfall})"


def print_targets(
    repetitions: list[Repetition], memory: list[dict[str, Any]] | None
) -> None:
    """Print each target's verdict from the medians over the repetitions.

    Each check is made on wall time and on the worker's CPU time: other jobs on
    the machine lengthen the first, and a cleaner machine moves it towards the
    second.
    """
    print(f"\nIngestion targets (small mail: under {SMALL_MESSAGE_BYTES:,} B raw):")
    for label, ratio_metric, rate_metric in (
        ("wall", "ms_per_msg", "msgs_per_s"),
        ("CPU", "cpu_ms_per_msg", "msgs_per_cpu_s"),
    ):
        ratio = statistics.median(
            metric_ratios(repetitions, PATH_SMALL, INGEST, ratio_metric)
        )
        rate = statistics.median(
            ingest_metrics(repetition.subset(PATH_SMALL), INGEST)[rate_metric]
            for repetition in repetitions
        )
        print(
            f"  small mail end to end ≤ {SMALL_RATIO_TARGET:g}x the stdlib parse "
            f"({label} ms/message): {report.verdict(ratio, SMALL_RATIO_TARGET)}"
        )
        print(
            f"  small mail ≥ {SMALL_RATE_TARGET:g} messages/s on one core "
            f"({label}): {rate_verdict(rate, SMALL_RATE_TARGET)}"
        )
    for row in memory or []:
        if row["config"] == INGEST:
            multiple = row["multiple"]
            print(
                f"  peak memory ≤ {MEMORY_MULTIPLE_TARGET:g}x the message size, "
                f"{row['message']}: {report.verdict(multiple, MEMORY_MULTIPLE_TARGET)}"
            )


def run_memory(
    context: IngestContext, names: list[str], results_file: report.ResultsFile
) -> list[dict[str, Any]]:
    """Measure the peak RSS growth of each configuration on the largest messages."""
    environment = fresh_environment(context, "ingest-memory")
    rows = []
    print(
        "\nPeak memory: growth of ru_maxrss while one fresh worker handles one "
        "message, after a tiny warm-up message (1 MiB = 1,048,576 B)"
    )
    for message in largest_messages(names, MEMORY_MESSAGES):
        baseline_multiple = math.nan
        for config in CONFIGS:
            arguments = ["memory", "--config", config, "--message", message]
            output, _pinned = run_worker(arguments, environment, context)
            multiple = output["delta_bytes"] / output["bytes"]
            if config == BASELINE:
                baseline_multiple = multiple
            rows.append({"config": config, "multiple": multiple, **output})
            print(
                f"  {message:<36} {output['bytes']:>10,} B  {config:<24} "
                f"+{output['delta_bytes'] / 2**20:7.1f} MiB = {multiple:5.2f}x the "
                f"message (RSS before {output['rss_before_kib'] / 1024:.0f} MiB; "
                f"{output['wall_ns'] / 1e6:.0f} ms)"
            )
            is_ours = config != BASELINE
            detail = {key: output[key] for key in output if key != "delta_bytes"}
            results_file.write(
                path=PATH_MEMORY,
                config=config,
                metric="peak_rss_delta_bytes",
                value=output["delta_bytes"],
                detail=detail,
            )
            results_file.write(
                path=PATH_MEMORY,
                config=config,
                metric="peak_rss_multiple_of_message",
                value=multiple,
                baseline=BASELINE if is_ours else None,
                baseline_value=baseline_multiple if is_ours else None,
                detail=detail,
            )
    return rows


def run_profile(context: IngestContext) -> None:
    environment = fresh_environment(context, "ingest-profile")
    profile_path = context.results_dir / f"{context.stamp}-ingest.prof"
    arguments = [
        "profile",
        "--cap-seconds",
        f"{context.cap_seconds:g}",
        "--output",
        str(profile_path),
    ]
    output, _pinned = run_worker(arguments, environment, context)
    print(
        f"\nProfiled ingest pass over the small messages ({output['messages']}/"
        f"{output['expected']}, after the warm-up; cProfile slows it, so read "
        "shares, not times):"
    )
    print_profile(profile_path, output["messages"])
    print_steps(profile_path)


def print_steps(profile_path: Path) -> None:
    """Print the CPU time under each step of ingest, as a share of the whole."""
    stats = pstats.Stats(str(profile_path))
    # As in profile_report: the stubs do not declare pstats' per-function rows.
    rows: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _line, name), row in rows.items():
        for suffix, function in INGEST_STEPS:
            if filename.endswith(suffix) and name == function:
                cumulative[suffix, function] = row[3]
    total = cumulative.get(INGEST_STEPS[0]) or math.nan
    print("  CPU time under each step (cumulative; steps nest):")
    for suffix, function in INGEST_STEPS:
        seconds = cumulative.get((suffix, function))
        share = "not called" if seconds is None else f"{seconds / total:6.1%}"
        print(f"    {share:>10}  {suffix.removesuffix('.py')}.{function}")


def run_ingest(context: IngestContext, results_file: report.ResultsFile) -> None:
    """Run the repetitions, print each and the summary, then memory and targets."""
    names = corpus_names()
    small = sum(
        1 for name in names if (CORPUS_DIR / name).stat().st_size < SMALL_MESSAGE_BYTES
    )
    print(
        f"\nEmail ingestion: {len(names)} messages of tests/mail/corpus ({small} "
        f"small, under {SMALL_MESSAGE_BYTES:,} B); {context.repetitions} "
        f"repetition(s), each with a fresh database and worker process; cap "
        f"{context.cap_seconds:g} s per phase"
    )
    repetitions = []
    for number in range(1, context.repetitions + 1):
        repetition = run_repetition(number, context)
        repetitions.append(repetition)
        print_repetition(repetition)
        write_repetition_lines(results_file, repetition)
    for path in (PATH_ALL, PATH_SMALL):
        print_summary(repetitions, path)
    print_slowest(repetitions)
    memory = run_memory(context, names, results_file)
    print_targets(repetitions, memory)
    if context.profile:
        run_profile(context)


if __name__ == "__main__":
    worker_main()
