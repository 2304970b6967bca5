"""Closed-loop chat relay load: requester sockets send, agent sockets receive.

Each pair sends one message at a time: the requester sends a ``message`` frame
whose body starts with ``time.perf_counter_ns()``, and the next one leaves only
when the agent socket of the same pair has received it. Latency is the time from
that stamp to the agent's receipt, so it includes the time this load generator
takes to send and to read the frame, for every server measured.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

FRAME_BYTES = 120
OPEN_CONCURRENCY = 10
OPEN_TIMEOUT_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 10.0
CLOSE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Endpoint:
    """How to open one socket and what marks it as ready for the workload."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    first_frames: tuple[str, ...] = ()
    # Frame type to wait for after the first frames, or None to wait for none.
    ready_type: str | None = None


@dataclass(frozen=True)
class PairPlan:
    requester: Endpoint
    agent: Endpoint


@dataclass
class OpenPair:
    index: int
    requester: ClientConnection
    agent: ClientConnection
    drain: "asyncio.Task[int]"
    # Highest Layanan ``seq`` the agent socket received, which stays 0 for the
    # raw relay.
    last_seq: int = 0


@dataclass(frozen=True)
class Delivery:
    client_id: str
    body: str
    seq: int | None


@dataclass
class PhaseResult:
    """Figures from one measured phase of the workload."""

    messages: int
    expected: int
    latencies_ns: list[int]
    wall_seconds: float
    # From /proc/<pid>/stat (clock ticks) and from the process CPU-time clock (ns).
    server_cpu_seconds: float
    server_cpu_clock_seconds: float
    client_cpu_seconds: float
    timed_out: bool
    # Highest seq received per pair, so that the next connection resumes there.
    last_seq_by_pair: list[int] = field(default_factory=list)


def message_frame(client_id: str, stamp_ns: int) -> str:
    """Return a FRAME_BYTES-long ``message`` frame whose body starts with the stamp."""
    body = f"{stamp_ns} "
    frame = {"type": "message", "client_id": client_id, "body": body}
    padding = FRAME_BYTES - len(json.dumps(frame))
    frame["body"] = body + "x" * max(padding, 0)
    return json.dumps(frame)


def delivered_message(frame: Any) -> Delivery | None:
    """Return the client id, body and seq of a delivered message frame, or None.

    Layanan wraps the message (``{"type": "message", "message": {...}}``); the raw
    relay forwards the requester's frame as it was sent, so it has no seq.
    """
    if not isinstance(frame, dict) or frame.get("type") != "message":
        return None
    message = frame.get("message", frame)
    if not isinstance(message, dict):
        return None
    client_id, body, seq = (
        message.get("client_id"),
        message.get("body"),
        message.get("seq"),
    )
    if not isinstance(client_id, str) or not isinstance(body, str):
        return None
    return Delivery(client_id, body, seq if isinstance(seq, int) else None)


async def open_endpoint(endpoint: Endpoint, origin: str) -> ClientConnection:
    """Open a socket, send its first frames and wait for its ready frame."""
    connection = await connect(
        endpoint.url,
        origin=Origin(origin),
        additional_headers=endpoint.headers,
        compression=None,
        proxy=None,
        open_timeout=OPEN_TIMEOUT_SECONDS,
        ping_interval=None,
        max_queue=None,
    )
    try:
        for frame in endpoint.first_frames:
            await connection.send(frame)
        if endpoint.ready_type is not None:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                while (
                    json.loads(await connection.recv()).get("type")
                    != endpoint.ready_type
                ):
                    pass
    except BaseException:
        await connection.close()
        raise
    return connection


async def drain(connection: ClientConnection) -> int:
    """Read and drop every frame until the socket closes, and return how many."""
    count = 0
    try:
        async for _frame in connection:
            count += 1
    except ConnectionClosed:
        pass
    return count


async def open_pairs(plans: list[PairPlan], origin: str) -> list[OpenPair]:
    """Open every pair, the agent first, a few pairs at a time."""
    limit = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_pair(index: int, plan: PairPlan) -> OpenPair:
        async with limit:
            agent = await open_endpoint(plan.agent, origin)
            requester = await open_endpoint(plan.requester, origin)
        return OpenPair(index, requester, agent, asyncio.create_task(drain(requester)))

    results = await asyncio.gather(
        *(open_pair(index, plan) for index, plan in enumerate(plans)),
        return_exceptions=True,
    )
    pairs = [result for result in results if isinstance(result, OpenPair)]
    errors = [result for result in results if isinstance(result, BaseException)]
    if errors:
        await close_pairs(pairs)
        raise errors[0]
    return pairs


async def close_pairs(pairs: list[OpenPair]) -> None:
    connections = [
        connection for pair in pairs for connection in (pair.requester, pair.agent)
    ]
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
            await asyncio.gather(*(connection.close() for connection in connections))
            await asyncio.gather(*(pair.drain for pair in pairs))
    except TimeoutError:
        for pair in pairs:
            pair.drain.cancel()


async def relay(pair: OpenPair, count: int, tag: str, latencies_ns: list[int]) -> None:
    """Send ``count`` messages one at a time and record each delivery latency."""
    for number in range(count):
        client_id = f"{tag}-{pair.index}-{number}"
        await pair.requester.send(message_frame(client_id, time.perf_counter_ns()))
        while True:
            delivered = delivered_message(json.loads(await pair.agent.recv()))
            if delivered is not None and delivered.client_id == client_id:
                break
        received_ns = time.perf_counter_ns()
        latencies_ns.append(received_ns - int(delivered.body.split(" ", 1)[0]))
        pair.last_seq = max(pair.last_seq, delivered.seq or 0)


async def run_phase(
    pairs: list[OpenPair], count: int, cap_seconds: float, tag: str
) -> tuple[list[int], bool]:
    """Relay ``count`` messages per pair, all pairs at once, within the time cap."""
    latencies_ns: list[int] = []
    tasks = [
        asyncio.create_task(relay(pair, count, tag, latencies_ns)) for pair in pairs
    ]
    _done, pending = await asyncio.wait(tasks, timeout=cap_seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
    return latencies_ns, bool(pending)


async def run_workload(
    plans: list[PairPlan],
    *,
    origin: str,
    messages: int,
    warmup: int,
    cap_seconds: float,
    server_cpu_seconds: Callable[[], tuple[float, float]],
) -> PhaseResult:
    """Open the pairs, warm up, then measure ``messages`` round trips per pair."""
    # Client ids must be new in every run, because the server acknowledges a
    # re-sent id but does not broadcast it again, so the agent would wait until
    # the cap.
    run_tag = uuid.uuid4().hex[:8]
    pairs = await open_pairs(plans, origin)
    try:
        if warmup:
            await run_phase(pairs, warmup, cap_seconds, f"w{run_tag}")
        stat_before, clock_before = server_cpu_seconds()
        client_before = time.process_time()
        started = time.perf_counter()
        latencies_ns, timed_out = await run_phase(
            pairs, messages, cap_seconds, f"m{run_tag}"
        )
        wall_seconds = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        stat_after, clock_after = server_cpu_seconds()
    finally:
        await close_pairs(pairs)
    return PhaseResult(
        messages=len(latencies_ns),
        expected=messages * len(plans),
        latencies_ns=latencies_ns,
        wall_seconds=wall_seconds,
        server_cpu_seconds=stat_after - stat_before,
        server_cpu_clock_seconds=clock_after - clock_before,
        client_cpu_seconds=client_cpu,
        timed_out=timed_out,
        last_seq_by_pair=[pair.last_seq for pair in pairs],
    )
