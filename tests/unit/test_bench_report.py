"""``make bench``'s summary: added latency, shares, the floor beside each target, and the
verdict, computed from raw samples."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import load
from bench.instructions import totals
from bench.load import merged
from bench.report import instruction_lines, render, summarise


def _target(chat_ms: float, ttfb_ms: float, rps: float, cpu_ms: float) -> dict[str, Any]:
    return {
        "latency": {
            "chat": [chat_ms] * 10,
            "stream_ttfb": [ttfb_ms] * 10,
            "stream_total": [ttfb_ms + 0.1] * 10,
        },
        "throughput": {
            kind: {
                "rps": rps,
                "errors": 0,
                "latencies_ms": [chat_ms * 10] * 10,
                "server_cpu_ms_per_request": cpu_ms,
            }
            for kind in ("chat", "stream", "long_stream")
        },
    }


def _raw(keyhouse_chat_ms: float) -> dict[str, Any]:
    targets = {
        "direct": _target(1.0, 1.0, 1000, 0.1),
        "bare": _target(1.7, 1.8, 760, 0.3),
        "keyhouse": _target(keyhouse_chat_ms, 1.4, 900, 0.4),
    }
    return {
        "latency": {n: t["latency"] for n, t in targets.items()},
        "throughput": {n: t["throughput"] for n, t in targets.items()},
    }


def test_the_summary_puts_the_floor_beside_each_target_and_judges_keyhouse() -> None:
    summary = summarise(_raw(1.4), {"VmRSS": 100 * 1024}, 0.9)
    assert round(summary["added_over_direct"]["keyhouse"]["chat_p50_ms"], 6) == 0.4
    assert round(summary["floor"]["added_p50"], 6) == 0.7
    assert round(summary["floor"]["added_ttfb"], 6) == 0.8
    assert summary["floor"]["rps_share"] == 0.76
    assert summary["rps_share_of_direct"]["keyhouse"] == 0.9
    assert summary["targets_met"] is True

    missed = summarise(_raw(1.6), {"VmRSS": 100 * 1024}, 1.2)
    assert missed["targets_met"] is False
    assert missed["targets"]["added_p50"][2] is False
    assert missed["targets"]["startup_s"][2] is False


def test_the_table_names_each_missed_target_with_the_floor_beside_it() -> None:
    result = {
        "summary": summarise(_raw(1.6), {"VmRSS": 100 * 1024}, 0.9),
        "plan": {
            "latency": {"rounds": 1, "requests": 10},
            "throughput": {"concurrency": 32, "long_concurrency": 8, "seconds": 1},
        },
        "keyhouse_startup_seconds": 0.9,
        "keyhouse_startup_samples": [0.9, 0.8, 1.0],
        "keyhouse_rss_kb": {"after_load": {"VmRSS": 100 * 1024}, "idle": {"VmRSS": 90 * 1024}},
        "at": "now",
        "python": "3.11",
        "cpus": 2,
        "pinning": None,
        "load_average": {"before": 0.1, "after": 0.2},
    }
    table = render(result)
    added = next(line for line in table.splitlines() if line.strip().startswith("added p50"))
    assert "MISSED" in added and "(bare 0.70)" in added
    assert "median of 0.90, 0.80, 1.00" in table


def test_the_instruction_counts_print_per_kind_and_thread_with_their_ratio() -> None:
    counted = {
        name: {
            kind: {"main": main * 1e6, "all": (main + extra) * 1e6}
            for kind, main, extra in (("chat", base, 0.2), ("stream", base * 2, 0.3))
        }
        for name, base in (("bare", 0.5), ("keyhouse", 0.6))
    }
    counted["bare"]["chat"]["all"] = 0.5e6
    lines = instruction_lines(counted)
    chat_main = next(line for line in lines if "chat, event-loop thread" in line)
    assert "0.500 M" in chat_main and "0.600 M" in chat_main and "1.20x" in chat_main
    chat_all = next(line for line in lines if "chat, all threads" in line)
    assert "0.800 M" in chat_all and "1.60x" in chat_all
    stream_main = next(line for line in lines if "stream, event-loop thread" in line)
    assert "1.000 M" in stream_main and "1.200 M" in stream_main and "1.20x" in stream_main
    assert instruction_lines({"skipped": "valgrind is not installed"})[-1] == (
        "instructions per request: not counted (valgrind is not installed)"
    )
    assert instruction_lines(None) == []


def test_a_callgrind_dump_is_read_per_thread_the_main_thread_apart(tmp_path: Path) -> None:
    for thread, total in (("01", 800), ("06", 150), ("07", 50)):
        (tmp_path / f"callgrind.42.3-{thread}").write_text(
            f"version: 1\npid: 42\nevents: Ir\nsummary: 18446744073\n\nfl=x\n1 2\ntotals: {total}\n"
        )
    assert totals(sorted(tmp_path.iterdir())) == {"main": 800, "all": 1000}


def _run(rps: float, done: int, cpu_s: float, latencies: list[float]) -> dict[str, Any]:
    return {"rps": rps, "done": done, "cpu_seconds": cpu_s, "errors": 1, "latencies_ms": latencies}


def test_throughput_rounds_merge_to_the_median_rate_and_pooled_cpu() -> None:
    runs = [_run(900, 3600, 1.8, [1.0]), _run(400, 1600, 1.6, [9.0]), _run(1000, 4000, 2.0, [2.0])]
    one = merged(runs)
    assert one["rps"] == 900  # the slow round does not set the figure
    assert one["rounds_rps"] == [900, 400, 1000]
    assert one["server_cpu_ms_per_request"] == (1.8 + 1.6 + 2.0) * 1000 / (3600 + 1600 + 4000)
    assert sorted(one["latencies_ms"]) == [1.0, 2.0, 9.0] and one["errors"] == 3
    assert merged(runs[:2])["rps"] == 650  # an even count: the mean of the middle two


def test_throughput_rounds_interleave_the_targets(monkeypatch: Any) -> None:
    order: list[tuple[str, str]] = []

    async def fake(target: Any, kind: str, callers: int, seconds: float, warmup: float) -> Any:
        order.append((target.name, kind))
        return _run(callers, 10, 0.01, [1.0])

    monkeypatch.setattr(load, "throughput", fake)
    targets = [SimpleNamespace(name=n) for n in ("direct", "bare", "keyhouse")]
    plan = {"rounds": 3, "seconds": 1.0, "warmup": 0.0, "long_concurrency": 8}
    out = asyncio.run(load.throughputs(targets, plan, 32))  # type: ignore[arg-type]
    firsts = [order[i][0] for i in range(0, len(order), 9)]
    assert firsts == ["direct", "bare", "keyhouse"]  # the order rotates each round
    assert len(order) == 27
    assert out["keyhouse"]["long_stream"]["rps"] == 8 and out["bare"]["chat"]["rps"] == 32
