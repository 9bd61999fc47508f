"""The benchmark driver: start the processes, configure Keyhouse, load, report.

    python -m bench [--quick] [--pin] [--log-level warning]

Processes, all on 127.0.0.1: the fake upstream, the bare proxy, ``keyhouse serve`` (a
temporary KEYHOUSE_HOME, configured through its admin API like a user would), and the
load generator. With ``--pin`` (and two or more cores) the proxies share one core and
the upstream and load generator the other (``taskset``). Writes
bench/results/<time>.json and prints one table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench import instructions
from bench.report import render, summarise
from bench.upstream import LONG_TOKENS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
JSON = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], name: str, log: Path, seconds: float = 30.0
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}:\n{tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"{name} did not start listening on {port}:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Processes:
    """Every process this run started, stopped by its own handle at the end."""

    def __init__(self, workdir: Path, pin: dict[str, int] | None) -> None:
        self.workdir = workdir
        self.pin = pin
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, argv: list[str], role: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], Path]:
        if self.pin is not None:
            argv = ["taskset", "-c", str(self.pin[role]), *argv]
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        self.started.append(process)
        return process, log

    def stop_one(self, process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.started.remove(process)

    def stop(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.started):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def keyhouse_argv() -> list[str]:
    script = Path(sys.executable).with_name("keyhouse")
    return [str(script)] if script.exists() else [sys.executable, "-m", "keyhouse"]


# Far above anything the benchmark reaches, so every call runs every check (requests,
# tokens, concurrency, a budget reservation and its settlement) and none refuses.
BENCH_LIMITS = {
    "requests_per_minute": 100_000_000,
    "tokens_per_minute": 100_000_000,
    "max_concurrent": 100_000,
    "budget": {"usd": 1_000_000, "period": "month", "action": "reject"},
}


def limited_token(base: str, admin_token: str) -> str:
    """An access token that carries every kind of limit (the "limits" variants)."""
    headers = {"authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30, trust_env=False) as client:
        token = client.post(
            "/api/v1/access-tokens", json={"name": "bench-limited", "limits": BENCH_LIMITS}
        )
        token.raise_for_status()
        secret: str = token.json()["token"]
        return secret


def configure_keyhouse(base: str, admin_token: str, upstream: str) -> str:
    """Create a key, an endpoint and an access token through the admin API."""
    headers = {"authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30, trust_env=False) as client:
        key = client.post(
            "/api/v1/keys",
            json={
                "name": "bench-upstream",
                "provider": "openai_compatible",
                "credentials": {"api_key": "sk-bench-" + secrets.token_hex(16)},
                "config": {"base_url": f"{upstream}/v1"},
            },
        )
        key.raise_for_status()
        endpoint = client.post(
            "/api/v1/endpoints",
            json={
                "name": "bench-chat",
                "task": "chat",
                "targets": [{"key_id": key.json()["id"], "model": "bench-model"}],
            },
        )
        endpoint.raise_for_status()
        client.post(
            "/api/v1/endpoints",
            json={
                "name": "bench-long",
                "task": "chat",
                "targets": [{"key_id": key.json()["id"], "model": "bench-long"}],
            },
        ).raise_for_status()
        token = client.post("/api/v1/access-tokens", json={"name": "bench"})
        token.raise_for_status()
        access: str = token.json()["token"]
        # The gateway reads a cache that follows admin writes; wait until it serves.
        body = {"model": "bench-chat", "messages": [{"role": "user", "content": "hi"}]}
        deadline = time.monotonic() + 10
        while True:
            answer = client.post(
                "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {access}"}
            )
            if answer.status_code == 200:
                return access
            if time.monotonic() > deadline:
                raise SystemExit(f"keyhouse never served the endpoint: {answer.text[:300]}")
            time.sleep(0.1)


def first_answer_seconds(
    procs: Processes,
    argv: list[str],
    env: dict[str, str],
    port: int,
    access: str,
    name: str = "keyhouse-restart",
) -> tuple[float, Any]:
    """Start ``keyhouse serve`` on an existing home and time it to its first gateway
    answer (a 200 chat completion): imports, bootstrap, registry load, bind, serve."""
    body = json.dumps(
        {"model": "bench-chat", "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    started = time.monotonic()
    process, log = procs.start(name, argv, "proxy", env)
    headers = {"authorization": f"Bearer {access}", "content-type": "application/json"}
    with httpx.Client(timeout=5, trust_env=False) as client:
        while time.monotonic() - started < 30:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode}:\n{tail(log)}")
            try:
                answer = client.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions", content=body, headers=headers
                )
                if answer.status_code == 200:
                    return time.monotonic() - started, process
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    raise SystemExit(f"{name} did not answer within 30 s:\n{tail(log)}")


def start_variants(
    procs: Processes,
    argv: list[str],
    env: dict[str, str],
    kh_port: int,
    kh_pid: int,
    admin_token: str,
    access: str,
    redis_url: str,
) -> list[JSON]:
    """The same Keyhouse with one thing changed, each its own target in the same run:
    usage recording off (the "before" of its cost), every limit on a token with
    per-process counters, and the same limits with the counters in Redis. The extra
    servers are replicas on the same home, started with their own settings."""
    base = f"http://127.0.0.1:{kh_port}"
    limited = limited_token(base, admin_token)
    chat = "/v1/chat/completions"
    out: list[JSON] = []
    for name, extra, token, port in (
        ("no-usage", {"KEYHOUSE_USAGE_RECORDING": "false"}, access, free_port()),
        ("limits", {}, limited, kh_port),
        ("redis", {"KEYHOUSE_REDIS_URL": redis_url}, limited, free_port()),
    ):
        pid = kh_pid
        if port != kh_port:
            replica = [*argv[:-1], str(port)]
            process, log = procs.start(f"keyhouse-{name}", replica, "proxy", {**env, **extra})
            wait_for_port(port, process, f"keyhouse ({name})", log)
            pid = process.pid
        out.append(
            {
                "name": name,
                "model": "bench-chat",
                "long_model": "bench-long",
                "token": token,
                "pid": pid,
                "url": f"http://127.0.0.1:{port}{chat}",
            }
        )
    return out


def rss_kb(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def count_instructions(
    procs: Processes, work: Path, upstream: str, kh_env: dict[str, str], access: str, n: int
) -> JSON:
    """The floor and Keyhouse once more each, under callgrind (bench/instructions.py):
    instructions per sequential chat and per short stream."""
    why = instructions.missing()
    if why is not None:
        return {"skipped": why}
    out: JSON = {}
    for name, argv, env, model, token in (
        ("bare", ["-m", "bench.bare_proxy", "--upstream", upstream], {}, "bench-model", None),
        (
            "keyhouse",
            ["-m", "keyhouse", "serve", "--host", "127.0.0.1"],
            kh_env,
            "bench-chat",
            access,
        ),
    ):
        port = free_port()
        out_dir = work / f"callgrind-{name}"
        out_dir.mkdir()
        argv = [*instructions.callgrind(out_dir), sys.executable, *argv, "--port", str(port)]
        process, log = procs.start(f"{name}-callgrind", argv, "proxy", env)
        wait_for_port(port, process, f"{name} under callgrind", log, seconds=300)
        headers = {"authorization": f"Bearer {token}"} if token else {}
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        with httpx.Client(timeout=120, trust_env=False) as client:
            calls = instructions.calls_for(client, url, headers, model)
            out[name] = instructions.count(process.pid, out_dir, calls, n)
        procs.stop_one(process)
    return out


def pinning(wanted: bool) -> dict[str, int] | None:
    if not wanted or shutil.which("taskset") is None:
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return {"proxy": cores[0], "upstream": cores[1], "load": cores[1]}


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="keyhouse-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run(args: argparse.Namespace) -> JSON:
    pin = pinning(args.pin)
    load_before = os.getloadavg()[0]
    if load_before > 1.0:
        print(
            f"note: load average is {load_before:.1f}; other work on this machine will "
            "show up in the latencies (the server-CPU rows are less affected)",
            file=sys.stderr,
        )
    with workdir() as work:
        procs = Processes(work, pin)
        try:
            up_port, bare_port, kh_port = free_port(), free_port(), free_port()
            upstream = f"http://127.0.0.1:{up_port}"
            up, up_log = procs.start(
                "upstream",
                [sys.executable, "-m", "bench.upstream", "--port", str(up_port)],
                "upstream",
            )
            bare, bare_log = procs.start(
                "bare",
                [
                    sys.executable,
                    "-m",
                    "bench.bare_proxy",
                    "--port",
                    str(bare_port),
                    "--upstream",
                    upstream,
                ],
                "proxy",
            )
            admin_token = "kh_bench_admin_" + secrets.token_urlsafe(32)
            env = {
                "KEYHOUSE_HOME": str(work / "home"),
                "KEYHOUSE_ADMIN_TOKEN": admin_token,
                "KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS": "true",
            }
            if args.log_level:
                env["KEYHOUSE_LOG_LEVEL"] = args.log_level
            if args.usage == "off":  # the "before" of usage recording's cost
                env["KEYHOUSE_USAGE_RECORDING"] = "false"
            kh_argv = [*keyhouse_argv(), "serve", "--host", "127.0.0.1", "--port", str(kh_port)]
            kh, kh_log = procs.start("keyhouse", kh_argv, "proxy", env)
            wait_for_port(up_port, up, "upstream", up_log)
            wait_for_port(bare_port, bare, "bare proxy", bare_log)
            wait_for_port(kh_port, kh, "keyhouse serve", kh_log)
            access = configure_keyhouse(f"http://127.0.0.1:{kh_port}", admin_token, upstream)
            # Start-up to first answer, on the home the first start created (restarts):
            # the median of several, since one start on a shared machine varies by
            # a third from the next.
            startups = []
            for _ in range(args.restarts):
                procs.stop_one(kh)
                seconds, kh = first_answer_seconds(procs, kh_argv, env, kh_port, access)
                startups.append(seconds)
            startup = statistics.median(startups)
            rss_idle = rss_kb(kh.pid)
            variants = (
                start_variants(
                    procs, kh_argv, env, kh_port, kh.pid, admin_token, access, args.redis_url
                )
                if args.variants
                else []
            )

            plan = {
                "targets": [
                    {
                        "name": "direct",
                        "url": f"{upstream}/v1/chat/completions",
                        "model": "bench-model",
                        "long_model": "bench-long",
                        "pid": up.pid,
                    },
                    {
                        "name": "bare",
                        "url": f"http://127.0.0.1:{bare_port}/v1/chat/completions",
                        "model": "bench-model",
                        "long_model": "bench-long",
                        "pid": bare.pid,
                    },
                    {
                        "name": "keyhouse",
                        "model": "bench-chat",
                        "long_model": "bench-long",
                        "token": access,
                        "pid": kh.pid,
                        "url": f"http://127.0.0.1:{kh_port}/v1/chat/completions",
                    },
                    *variants,
                ],
                "latency": {
                    "rounds": args.rounds,
                    "requests": args.requests,
                    "warmup": args.warmup,
                },
                "throughput": {
                    "concurrency": args.concurrency,
                    "seconds": args.seconds,
                    "rounds": args.tp_rounds,
                    "warmup": 0.5,
                    "long_concurrency": 8,
                    "long_tokens": LONG_TOKENS,
                },
            }
            plan_file = work / "plan.json"
            plan_file.write_text(json.dumps(plan))
            argv = [sys.executable, "-m", "bench.load", str(plan_file)]
            if pin is not None:
                argv = ["taskset", "-c", str(pin["load"]), *argv]
            started = time.monotonic()
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=300, check=False)
            if done.returncode != 0:
                raise SystemExit(
                    f"load generator failed:\n{done.stderr.decode()[-3000:]}\n"
                    f"keyhouse log:\n{tail(kh_log)}"
                )
            raw = json.loads(done.stdout)
            rss_loaded = rss_kb(kh.pid)
            counted = (
                count_instructions(procs, work, upstream, env, access, args.requests)
                if args.instructions
                else {"skipped": "--no-instructions"}
            )
            return {
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "load_seconds": round(time.monotonic() - started, 1),
                "pinning": pin,
                "cpus": os.cpu_count(),
                "load_average": {
                    "before": round(load_before, 2),
                    "after": round(os.getloadavg()[0], 2),
                },
                "python": sys.version.split()[0],
                "plan": {k: v for k, v in plan.items() if k != "targets"},
                "keyhouse_rss_kb": {"idle": rss_idle, "after_load": rss_loaded},
                "keyhouse_startup_seconds": round(startup, 3),
                "keyhouse_startup_samples": [round(x, 3) for x in startups],
                "summary": summarise(raw, rss_loaded, startup, LONG_TOKENS),
                "instructions": counted,
                "raw": raw,
            }
        finally:
            procs.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the proxies to one core and the upstream and load generator "
        "to another (helps on an idle machine; hurts when other work "
        "competes for the cores, since nothing can move)",
    )
    parser.add_argument(
        "--log-level", default=None, help="KEYHOUSE_LOG_LEVEL for the server (default: as shipped)"
    )
    parser.add_argument(
        "--usage",
        choices=["on", "off"],
        default="on",
        help="usage records, metrics and spans per call (default: on)",
    )
    parser.add_argument(
        "--no-variants",
        dest="variants",
        action="store_false",
        help="skip the extra targets (usage off; limits in-process and in Redis)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("KEYHOUSE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="Redis for the limits-in-Redis target",
    )
    parser.add_argument(
        "--no-instructions",
        dest="instructions",
        action="store_false",
        help="skip counting instructions per request under callgrind (bench/instructions.py)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300, help="per target per round")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0, help="per throughput run")
    parser.add_argument(
        "--throughput-rounds",
        dest="tp_rounds",
        type=int,
        help="interleaved throughput rounds per target (the median counts; default 3)",
    )
    parser.add_argument(
        "--restarts", type=int, help="restarts timed to the first answer (median; default 5)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests, args.warmup, args.seconds = 2, 50, 20, 1.0
        args.tp_rounds = args.tp_rounds or 1
        args.restarts = args.restarts or 2
    args.tp_rounds = args.tp_rounds or 3
    args.restarts = args.restarts or 5
    result = run(args)
    RESULTS.mkdir(exist_ok=True)
    stamp = result["at"].replace(":", "").replace("+0000", "Z")
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(result, indent=1))
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=1))
    print(render(result))
    print(f"\nresults: {path.relative_to(ROOT)}")
    if not result["summary"]["targets_met"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
