"""Figures from the benchmark runs: statistics, JSON lines and printed tables.

One JSON line per configuration, repetition and metric, with these keys: path,
config, baseline, rep, metric, value, baseline_value, ratio, versions, machine
and detail. ``ratio`` is value / baseline_value of the same repetition.
"""

import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load import PhaseResult
from weight import Resource, WidgetWeight

OURS = "ours-sqlite"
BASELINE = "raw-asgi-uvicorn"
LOADER_TARGET_GZIP_BYTES = 5_000
PANEL_TARGET_GZIP_BYTES = 40_000
# Targets as ratios to the raw ASGI relay of the same run.
CPU_RATIO_TARGET = 3.0
P99_RATIO_TARGET = 2.0
# Layanan stores every message, and the target lets storing add 1.5x on top.
PERSISTED_CPU_RATIO_TARGET = CPU_RATIO_TARGET * 1.5

RELAY_METRICS = {
    "p50_ms": "p50 latency, ms",
    "p99_ms": "p99 latency, ms",
    "msgs_per_s": "messages/s",
    "cpu_us_per_msg": "server CPU µs/msg (/proc stat)",
    "cpu_clock_us_per_msg": "server CPU µs/msg (CPU clock)",
    "server_core_share": "server CPU, share of a core",
    "client_cpu_us_per_msg": "load generator CPU µs/msg",
    "client_core_share": "load generator CPU, share of a core",
}


def percentile(values: list[int], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values``, or NaN if there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def relay_metrics(result: PhaseResult) -> dict[str, float]:
    messages = result.messages or math.nan
    wall = result.wall_seconds or math.nan
    return {
        "p50_ms": percentile(result.latencies_ns, 0.50) / 1e6,
        "p99_ms": percentile(result.latencies_ns, 0.99) / 1e6,
        "msgs_per_s": result.messages / wall,
        "cpu_us_per_msg": result.server_cpu_seconds / messages * 1e6,
        "cpu_clock_us_per_msg": result.server_cpu_clock_seconds / messages * 1e6,
        "server_core_share": result.server_cpu_seconds / wall,
        "client_cpu_us_per_msg": result.client_cpu_seconds / messages * 1e6,
        "client_core_share": result.client_cpu_seconds / wall,
    }


def ratio(value: float, baseline_value: float | None) -> float | None:
    if baseline_value is None or baseline_value == 0 or math.isnan(baseline_value):
        return None
    return value / baseline_value


def json_number(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, 4)


@dataclass
class ResultsFile:
    """The JSON lines file of one benchmark invocation."""

    path: Path
    versions: dict[str, str]
    machine: dict[str, Any]

    def write(
        self,
        *,
        path: str,
        config: str,
        metric: str,
        value: float,
        baseline: str | None = None,
        baseline_value: float | None = None,
        rep: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        line = {
            "path": path,
            "config": config,
            "baseline": baseline,
            "rep": rep,
            "metric": metric,
            "value": json_number(value),
            "baseline_value": json_number(baseline_value),
            "ratio": json_number(ratio(value, baseline_value)),
            "versions": self.versions,
            "machine": self.machine,
            "detail": detail or {},
        }
        with self.path.open("a", encoding="utf-8") as output:
            output.write(json.dumps(line, ensure_ascii=False) + "\n")


def write_relay_lines(
    results_file: ResultsFile,
    path: str,
    rep: int,
    ours: PhaseResult,
    baseline: PhaseResult,
    detail: dict[str, Any],
) -> None:
    ours_metrics, baseline_metrics = relay_metrics(ours), relay_metrics(baseline)
    for config, result, metrics in (
        (BASELINE, baseline, baseline_metrics),
        (OURS, ours, ours_metrics),
    ):
        line_detail = {
            **detail,
            "messages": result.messages,
            "expected_messages": result.expected,
            "wall_s": round(result.wall_seconds, 4),
            "timed_out": result.timed_out,
        }
        for metric, value in metrics.items():
            is_ours = config == OURS
            results_file.write(
                path=path,
                config=config,
                metric=metric,
                value=value,
                baseline=BASELINE if is_ours else None,
                baseline_value=baseline_metrics[metric] if is_ours else None,
                rep=rep,
                detail=line_detail,
            )


def format_relay_run(label: str, result: PhaseResult) -> str:
    metrics = relay_metrics(result)
    status = " TIMED OUT" if result.timed_out else ""
    return (
        f"  {label:<28} {result.messages:>6}/{result.expected} msgs in "
        f"{result.wall_seconds:6.2f} s  {metrics['msgs_per_s']:8.0f} msgs/s  "
        f"p50 {metrics['p50_ms']:7.3f} ms  p99 {metrics['p99_ms']:7.3f} ms  "
        f"server {metrics['cpu_us_per_msg']:6.1f} µs/msg "
        f"(clock {metrics['cpu_clock_us_per_msg']:6.1f}) "
        f"({metrics['server_core_share']:4.0%} of a core)  "
        f"client {metrics['client_cpu_us_per_msg']:5.1f} µs/msg "
        f"({metrics['client_core_share']:4.0%}){status}"
    )


def format_number(value: float) -> str:
    """Format with about three significant digits, keeping every integer digit."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def spread(values: Iterable[float]) -> str:
    """Format the median and the min-max range of ``values``."""
    numbers = [value for value in values if not math.isnan(value)]
    if not numbers:
        return "n/a"
    median = format_number(statistics.median(numbers))
    if len(numbers) == 1:
        return median
    return f"{median} ({format_number(min(numbers))}-{format_number(max(numbers))})"


def print_relay_summary(path: str, runs: list[tuple[PhaseResult, PhaseResult]]) -> None:
    """Print median (min-max) per metric: ours, the baseline, ours/baseline."""
    print(f"\n{path}: median (min-max) over {len(runs)} repetition(s)")
    print(f"  {'metric':<36} {OURS:<28} {BASELINE:<28} ratio ours/baseline")
    for metric, label in RELAY_METRICS.items():
        ours_values = [relay_metrics(ours)[metric] for ours, _baseline in runs]
        baseline_values = [relay_metrics(baseline)[metric] for _ours, baseline in runs]
        ratios = [
            ratio(ours_value, baseline_value) or math.nan
            for ours_value, baseline_value in zip(
                ours_values, baseline_values, strict=True
            )
        ]
        print(
            f"  {label:<36} {spread(ours_values):<28} {spread(baseline_values):<28} "
            f"{spread(ratios)}"
        )


def median_ratio(runs: list[tuple[PhaseResult, PhaseResult]], metric: str) -> float:
    ratios = [
        ratio(relay_metrics(ours)[metric], relay_metrics(baseline)[metric]) or math.nan
        for ours, baseline in runs
    ]
    return statistics.median(ratios) if ratios else math.nan


def excess(value: float, target: float) -> str:
    """Describe how far ``value`` is above ``target``: a percentage, or a multiple."""
    if value >= 2 * target:
        return f"{value / target:.1f} times the target"
    return f"{value / target - 1:.0%} over the target"


def verdict(value: float, target: float) -> str:
    if math.isnan(value):
        return "not measured"
    if value <= target:
        return f"met ({value:.2f}x ≤ {target:g}x)"
    return f"MISSED ({value:.2f}x, {excess(value, target)})"


# The CPU checks use the CPU-time clock: a short run spans too few clock ticks of
# /proc/<pid>/stat for a ratio, while a full run gives the same figure either way.
TARGET_CHECKS = (
    ("chat-L2", "cpu_clock_us_per_msg", "server CPU/msg", CPU_RATIO_TARGET),
    (
        "chat-L2",
        "cpu_clock_us_per_msg",
        "server CPU/msg with the persistence allowance",
        PERSISTED_CPU_RATIO_TARGET,
    ),
    ("chat-L2", "p99_ms", "p99 latency", P99_RATIO_TARGET),
    ("chat-L1", "p99_ms", "p99 latency", P99_RATIO_TARGET),
)


def print_relay_targets(
    runs_by_path: dict[str, list[tuple[PhaseResult, PhaseResult]]],
) -> None:
    print("\nRelay targets (median ratio to the raw ASGI relay of the same run):")
    for path, metric, label, target in TARGET_CHECKS:
        if path in runs_by_path:
            value = median_ratio(runs_by_path[path], metric)
            print(f"  {path} {label} ≤ {target:g}x: {verdict(value, target)}")


def format_resource(resource: Resource) -> str:
    return (
        f"    {resource.name:<26} {resource.raw_bytes:>8,} B raw "
        f"{resource.gzip_bytes:>8,} B gzip {resource.wire_bytes:>8,} B on the wire "
        f"({resource.content_encoding})"
    )


def byte_verdict(value: int, target: int) -> str:
    if value <= target:
        return f"met ({value:,} ≤ {target:,} B)"
    return f"MISSED ({value:,} B, {excess(value, target)} of {target:,} B)"


def print_weight(weight: WidgetWeight) -> None:
    print("\nWidget weight (gzip level 9 of the bytes served; 1 KB = 1,000 B)")
    print("  Loader, on every portal page:")
    print(format_resource(weight.loader))
    print(format_resource(weight.loader_served))
    print("  Panel, when the visitor opens it:")
    for resource in weight.panel:
        print(format_resource(resource))
    print(
        f"    {'total':<26} {weight.panel_raw_bytes:>8,} B raw "
        f"{weight.panel_gzip_bytes:>8,} B gzip "
        f"{weight.panel_wire_bytes:>8,} B on the wire"
    )
    for call in weight.api_calls:
        print(
            f"  API on open: {call.name} ({call.raw_bytes:,} B raw, "
            f"{call.gzip_bytes:,} B gzip; not in the panel total)"
        )
    print(
        f"  Requests on open: {weight.request_count} (HTML 1, files "
        f"{len(weight.panel) - 1}, API {len(weight.api_calls)})"
    )
    print(
        f"  Target loader ≤ {LOADER_TARGET_GZIP_BYTES:,} B gzip: "
        f"{byte_verdict(weight.loader.gzip_bytes, LOADER_TARGET_GZIP_BYTES)}"
    )
    print(
        f"  Target panel ≤ {PANEL_TARGET_GZIP_BYTES:,} B gzip: "
        f"{byte_verdict(weight.panel_gzip_bytes, PANEL_TARGET_GZIP_BYTES)}"
    )


def write_weight_lines(results_file: ResultsFile, weight: WidgetWeight) -> None:
    resources = [weight.loader, weight.loader_served, *weight.panel, *weight.api_calls]
    for resource in resources:
        for metric, value in (
            ("raw_bytes", resource.raw_bytes),
            ("gzip_bytes", resource.gzip_bytes),
            ("wire_bytes", resource.wire_bytes),
        ):
            results_file.write(
                path="widget-weight",
                config=resource.name,
                metric=metric,
                value=value,
                detail={"content_encoding": resource.content_encoding},
            )
    for config, value, target in (
        ("loader", weight.loader.gzip_bytes, LOADER_TARGET_GZIP_BYTES),
        ("panel", weight.panel_gzip_bytes, PANEL_TARGET_GZIP_BYTES),
    ):
        results_file.write(
            path="widget-weight",
            config=config,
            metric="gzip_bytes",
            value=value,
            baseline="target",
            baseline_value=target,
        )
    results_file.write(
        path="widget-weight",
        config="panel",
        metric="raw_bytes",
        value=weight.panel_raw_bytes,
    )
    results_file.write(
        path="widget-weight",
        config="panel",
        metric="requests_on_open",
        value=weight.request_count,
        detail={
            "requests": [
                resource.name for resource in [*weight.panel, *weight.api_calls]
            ]
        },
    )
