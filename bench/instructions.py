"""Instructions per request, counted by valgrind's callgrind: the one measure of a proxy's
cost that whatever else runs on the machine cannot move.

On a shared machine the times (and even the CPU time) of one run differ from the next by
tens of percent. The number of instructions a process executes for a request does not:
for the same code, inputs and environment callgrind counts the same total to within a
percent or two, however loaded the machine is. So after the timed runs, the floor and
Keyhouse are each started once more under callgrind (instrumentation off while they
start and warm up), and the instructions of ``n`` sequential chats, then of ``n`` short streams,
are counted:

- ``main``: the event loop's thread, which serves every call (the comparable figure);
- ``all``: every thread. Keyhouse's usage writer and its configuration poll run in
  threads on a timer, and under callgrind a call takes ~50 times as long, so batches
  are smaller and polls more frequent per call than at full speed: ``all`` overstates
  that share.

Skipped, and said so, when valgrind is not installed (Debian: ``apt install valgrind``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

JSON = dict[str, Any]


def missing() -> str | None:
    """Why the count cannot run here, or None."""
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def callgrind(out_dir: Path) -> list[str]:
    """The argv prefix: callgrind with instrumentation off until asked, one file per
    thread and per dump."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out_dir}/callgrind.%p",
    ]


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=120)


def totals(files: list[Path]) -> JSON:
    """``{"main": instructions, "all": instructions}`` of one dump (a file per thread;
    thread 1 is the main thread, where the event loop runs)."""
    main = every = 0
    for path in files:
        for line in path.read_text().splitlines():
            if line.startswith("totals:"):
                count = int(line.split()[1])
                every += count
                if path.name.endswith("-01"):
                    main += count
    return {"main": main, "all": every}


def _dump(pid: int, out_dir: Path, seen: set[Path]) -> list[Path]:
    _control("--dump", str(pid))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fresh = [p for p in out_dir.glob(f"callgrind.{pid}.*") if p not in seen]
        # Each thread's file is complete once it has its totals line.
        if fresh and all("totals:" in p.read_text() for p in fresh):
            seen.update(fresh)
            return fresh
        time.sleep(0.2)
    raise SystemExit("callgrind wrote no dump within 60 s")


def count(
    pid: int,
    out_dir: Path,
    calls: dict[str, Callable[[], None]],
    n: int,
    warmup: int = 100,
) -> JSON:
    """Instructions per request of each kind in ``calls``, for the process ``pid``
    started with the ``callgrind`` prefix and already serving."""
    for call in calls.values():  # uninstrumented: full speed
        for _ in range(warmup):
            call()
    time.sleep(2)  # whatever start-up left for later (the admin build) is done by now
    _control("--instr=on", str(pid))
    for call in calls.values():  # instrumented, not counted: the first translations
        for _ in range(30):
            call()
    seen = set(out_dir.glob(f"callgrind.{pid}.*"))
    out: JSON = {}
    for kind, call in calls.items():
        _control("--zero", str(pid))
        for _ in range(n):
            call()
        dumped = totals(_dump(pid, out_dir, seen))
        out[kind] = {scope: value / n for scope, value in dumped.items()}
    return out


def calls_for(client: httpx.Client, url: str, headers: dict[str, str], model: str) -> JSON:
    """One sequential chat and one short stream, each checked."""
    messages = [{"role": "user", "content": "Say hello in a few words."}]

    def chat() -> None:
        answer = client.post(
            url, json={"model": model, "messages": messages, "max_tokens": 16}, headers=headers
        )
        if answer.status_code != 200:
            raise SystemExit(f"callgrind run: HTTP {answer.status_code} {answer.text[:200]}")

    def stream() -> None:
        body = {"model": model, "messages": messages, "max_tokens": 16, "stream": True}
        with client.stream("POST", url, json=body, headers=headers) as answer:
            text = answer.read()
        if answer.status_code != 200 or not text.endswith(b"data: [DONE]\n\n"):
            raise SystemExit(f"callgrind run: HTTP {answer.status_code} {text[:200]!r}")

    return {"chat": chat, "stream": stream}
