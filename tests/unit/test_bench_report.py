"""``make bench``'s summary: added latency, shares, the floor beside each target, and the
verdict, computed from raw samples."""

from __future__ import annotations

from typing import Any

from bench.report import render, summarise


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
