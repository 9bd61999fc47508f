"""The load generator, run in its own process: ``python -m bench.load PLAN.json``.

Latency is measured one request at a time (so it is the proxy's cost, not queueing),
in rounds that interleave the targets so drift (CPU frequency, a noisy neighbour) hits
them alike. Throughput is measured with N concurrent callers for a fixed time. Prints one
JSON document on stdout: raw latency samples in milliseconds and requests per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

try:
    # The maintained fork of httpx (a dependency of the openai and anthropic SDKs): its
    # connection pool does not slow down with the number of connections, so the load
    # generator is less of a bottleneck at high concurrency.
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

JSON = dict[str, Any]


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far (from /proc/<pid>/stat)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[11] and [12] are utime and stime (the 14th and 15th of the whole line).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Target:
    def __init__(self, spec: JSON, concurrency: int) -> None:
        self.name: str = spec["name"]
        self.pid: int | None = spec.get("pid")
        self.url: str = spec["url"]
        self.headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {spec.get('token', 'none')}",
        }
        messages = [{"role": "user", "content": "Say hello in a few words."}]
        self.chat_body = json.dumps(
            {"model": spec["model"], "messages": messages, "max_tokens": 16}
        ).encode()
        self.stream_body = json.dumps(
            {"model": spec["model"], "messages": messages, "max_tokens": 16, "stream": True}
        ).encode()
        self.long_body = json.dumps(
            {"model": spec["long_model"], "messages": messages, "max_tokens": 1000, "stream": True}
        ).encode()
        limits = httpx.Limits(
            max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
        )
        self.client = httpx.AsyncClient(limits=limits, timeout=30, trust_env=False)

    async def chat(self) -> float:
        started = time.perf_counter()
        response = await self.client.post(self.url, content=self.chat_body, headers=self.headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status_code} {response.text[:200]}")
        return elapsed * 1000

    async def long_stream(self) -> float:
        """A long streamed answer (the streaming-throughput case); ms for the whole."""
        return (await self.stream(self.long_body))[1]

    async def stream_total(self) -> float:
        return (await self.stream())[1]

    async def stream(self, body: bytes | None = None) -> tuple[float, float]:
        """(time to first body byte, time to the end of the stream), in ms."""
        started = time.perf_counter()
        request = self.client.build_request(
            "POST", self.url, content=body or self.stream_body, headers=self.headers
        )
        response = await self.client.send(request, stream=True)
        first = 0.0
        tail = b""
        try:
            if response.status_code != 200:
                await response.aread()
                raise RuntimeError(
                    f"{self.name}: HTTP {response.status_code} {response.text[:200]}"
                )
            async for chunk in response.aiter_raw():
                if not first and chunk:
                    first = time.perf_counter()
                tail = (tail + chunk)[-32:]
        finally:
            await response.aclose()
        ended = time.perf_counter()
        if not tail.endswith(b"data: [DONE]\n\n"):
            raise RuntimeError(f"{self.name}: stream did not end with [DONE]: {tail!r}")
        return (first - started) * 1000, (ended - started) * 1000


async def check(target: Target) -> None:
    """One request of each kind, checked for content, before anything is timed."""
    response = await target.client.post(
        target.url, content=target.chat_body, headers=target.headers
    )
    text = response.json()["choices"][0]["message"]["content"]
    if response.status_code != 200 or "Hello" not in text:
        raise RuntimeError(f"{target.name}: unexpected answer {response.text[:200]}")
    request = target.client.build_request(
        "POST", target.url, content=target.stream_body, headers=target.headers
    )
    response = await target.client.send(request, stream=True)
    body = (await response.aread()).decode()
    await response.aclose()
    if "How" not in body or not body.endswith("data: [DONE]\n\n"):
        raise RuntimeError(f"{target.name}: unexpected stream {body[:300]}")


async def latency(
    targets: list[Target], rounds: int, per_round: int, warmup: int
) -> dict[str, JSON]:
    out: dict[str, JSON] = {
        t.name: {"chat": [], "stream_ttfb": [], "stream_total": []} for t in targets
    }
    for target in targets:
        for _ in range(warmup):
            await target.chat()
            await target.stream()
    for r in range(rounds):
        order = targets[r % len(targets) :] + targets[: r % len(targets)]
        for target in order:
            samples = out[target.name]
            for _ in range(per_round):
                samples["chat"].append(await target.chat())
            for _ in range(per_round):
                ttfb, total = await target.stream()
                samples["stream_ttfb"].append(ttfb)
                samples["stream_total"].append(total)
    return out


async def throughput(
    target: Target, kind: str, concurrency: int, seconds: float, warmup: float
) -> JSON:
    call = {"chat": target.chat, "stream": target.stream_total, "long_stream": target.long_stream}[
        kind
    ]
    done = 0
    errors = 0
    samples: list[float] = []
    loop = asyncio.get_running_loop()
    start_counting = loop.time() + warmup
    deadline = start_counting + seconds

    async def worker() -> None:
        nonlocal done, errors
        while loop.time() < deadline:
            try:
                elapsed = await call()
            except Exception:
                errors += 1
                if errors > 1000:  # the target is down: do not spin until the deadline
                    return
                continue
            if start_counting <= loop.time() < deadline:
                done += 1
                samples.append(elapsed)

    cpu: list[float] = []

    async def sample_cpu() -> None:
        # The server's CPU time over exactly the counted window, not warm-up or drain.
        await asyncio.sleep(max(0.0, start_counting - loop.time()))
        cpu.append(cpu_seconds(target.pid))
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        cpu.append(cpu_seconds(target.pid))

    await asyncio.gather(sample_cpu(), *(worker() for _ in range(concurrency)))
    used = cpu[1] - cpu[0]
    return {
        "rps": done / seconds,
        "done": done,
        "cpu_seconds": used,
        "errors": errors,
        "latencies_ms": samples,
        "server_cpu_ms_per_request": used * 1000 / done if done else None,
    }


def merged(runs: list[JSON]) -> JSON:
    """The interleaved rounds of one target and kind, as one run: the median round's
    requests per second (a noisy moment on a shared machine moves one round, not the
    figure), every latency sample, and the CPU of all counted windows over all their
    requests."""
    done = sum(run["done"] for run in runs)
    used = sum(run["cpu_seconds"] for run in runs)
    return {
        "rps": statistics.median(run["rps"] for run in runs),
        "rounds_rps": [run["rps"] for run in runs],
        "done": done,
        "cpu_seconds": used,
        "errors": sum(run["errors"] for run in runs),
        "latencies_ms": [x for run in runs for x in run["latencies_ms"]],
        "server_cpu_ms_per_request": used * 1000 / done if done else None,
    }


async def throughputs(targets: list[Target], tp: JSON, concurrency: int) -> JSON:
    """Every target's throughput runs, in rounds that interleave the targets (the order
    rotates each round), like the latency rounds: drift in the machine's speed over the
    minutes the runs take then reaches every target alike."""
    kinds = {"chat": concurrency, "stream": concurrency, "long_stream": tp["long_concurrency"]}
    runs: dict[str, dict[str, list[JSON]]] = {t.name: {k: [] for k in kinds} for t in targets}
    for r in range(tp.get("rounds", 1)):
        for target in targets[r % len(targets) :] + targets[: r % len(targets)]:
            for kind, callers in kinds.items():
                run = await throughput(target, kind, callers, tp["seconds"], tp["warmup"])
                runs[target.name][kind].append(run)
    return {name: {k: merged(rs) for k, rs in by_kind.items()} for name, by_kind in runs.items()}


async def main(plan: JSON) -> JSON:
    conc = plan["throughput"]["concurrency"]
    targets = [Target(spec, conc) for spec in plan["targets"]]
    try:
        for target in targets:
            await check(target)
        lat = plan["latency"]
        result: JSON = {
            "latency": await latency(targets, lat["rounds"], lat["requests"], lat["warmup"])
        }
        result["throughput"] = await throughputs(targets, plan["throughput"], conc)
        return result
    finally:
        for target in targets:
            await target.client.aclose()


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    try:
        import uvloop  # a faster loop makes the load generator less of the measurement

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    json.dump(runner(main(plan)), sys.stdout)
