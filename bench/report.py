"""Turn raw samples into the summary and the table the benchmark prints."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

TARGET_ADDED_P50_MS = 2.0
TARGET_ADDED_TTFB_MS = 2.0
NAMES = ("direct", "bare", "keyhouse")
# Optional rows: keyhouse with every limit kind on the token, per process and in Redis.
EXTRA = ("kh+limits", "kh+redis")


def names(raw: JSON) -> tuple[str, ...]:
    return NAMES + tuple(n for n in EXTRA if n in raw["latency"])


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the samples."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summarise(raw: JSON) -> JSON:
    rows: JSON = {}
    for name in names(raw):
        lat = raw["latency"][name]
        tp = raw["throughput"][name]
        rows[name] = {
            "chat_p50_ms": percentile(lat["chat"], 50),
            "chat_p99_ms": percentile(lat["chat"], 99),
            "ttfb_p50_ms": percentile(lat["stream_ttfb"], 50),
            "ttfb_p99_ms": percentile(lat["stream_ttfb"], 99),
            "stream_p50_ms": percentile(lat["stream_total"], 50),
            "chat_rps": tp["chat"]["rps"],
            "chat_cpu_ms": tp["chat"].get("server_cpu_ms_per_request") or float("nan"),
            "stream_cpu_ms": tp["stream"].get("server_cpu_ms_per_request") or float("nan"),
            "stream_rps": tp["stream"]["rps"],
            "errors": tp["chat"]["errors"] + tp["stream"]["errors"],
            "samples": len(lat["chat"]),
        }
    direct = rows["direct"]
    added = {name: {"chat_p50_ms": rows[name]["chat_p50_ms"] - direct["chat_p50_ms"],
                    "chat_p99_ms": rows[name]["chat_p99_ms"] - direct["chat_p99_ms"],
                    "ttfb_p50_ms": rows[name]["ttfb_p50_ms"] - direct["ttfb_p50_ms"]}
             for name in rows if name != "direct"}
    met = (added["keyhouse"]["chat_p50_ms"] < TARGET_ADDED_P50_MS
           and added["keyhouse"]["ttfb_p50_ms"] < TARGET_ADDED_TTFB_MS
           and rows["keyhouse"]["errors"] == 0)
    return {"rows": rows, "added_over_direct": added, "targets_met": met}


def render(result: JSON) -> str:
    s = result["summary"]
    rows, added = s["rows"], s["added_over_direct"]
    shown = tuple(rows)
    over = [n for n in shown if n != "direct"]

    def line(label: str, key: str, fmt: str = "{:8.2f}", added_key: str | None = None) -> str:
        cells = [fmt.format(rows[n][key]) for n in shown]
        extra = ""
        if added_key:
            extra = "".join(f"{added[n][added_key]:+11.2f}" for n in over)
        return f"{label:<26}" + "".join(f"{c:>11}" for c in cells) + extra

    header = (f"{'':<26}" + "".join(f"{n:>11}" for n in shown)
              + "".join(f"{'+' + n:>11}" for n in over))
    rss = result["keyhouse_rss_kb"]["after_load"]
    idle = result["keyhouse_rss_kb"]["idle"]
    plan = result["plan"]
    ok = "PASS" if s["targets_met"] else "FAIL"
    out = [
        f"Keyhouse overhead benchmark — {result['at']}, python {result['python']}, "
        f"{result['cpus']} CPUs, pinning {result['pinning'] or 'off'}, load average "
        f"{result['load_average']['before']:.1f} before / {result['load_average']['after']:.1f} "
        "after",
        f"latency: {plan['latency']['rounds']} rounds x {plan['latency']['requests']} "
        f"sequential requests per target; throughput: {plan['throughput']['concurrency']} "
        f"concurrent callers x {plan['throughput']['seconds']:g} s",
        "",
        header,
        line("chat p50 (ms)", "chat_p50_ms", added_key="chat_p50_ms"),
        line("chat p99 (ms)", "chat_p99_ms", added_key="chat_p99_ms"),
        line("stream TTFB p50 (ms)", "ttfb_p50_ms", added_key="ttfb_p50_ms"),
        line("stream TTFB p99 (ms)", "ttfb_p99_ms"),
        line("stream whole p50 (ms)", "stream_p50_ms"),
        line(f"chat req/s @{plan['throughput']['concurrency']}", "chat_rps", "{:8.0f}"),
        line(f"stream req/s @{plan['throughput']['concurrency']}", "stream_rps", "{:8.0f}"),
        line("server CPU ms/req, chat", "chat_cpu_ms", "{:8.3f}"),
        line("server CPU ms/req, stream", "stream_cpu_ms", "{:8.3f}"),
        line("errors", "errors", "{:8d}"),
        "",
        f"keyhouse RSS: {rss.get('VmRSS', 0) / 1024:.1f} MB after load "
        f"(idle {idle.get('VmRSS', 0) / 1024:.1f} MB, peak {rss.get('VmHWM', 0) / 1024:.1f} MB)",
        "(server CPU: the upstream's own for direct, the proxy process's for bare and "
        "keyhouse; it does not depend on what else the machine is running)",
        f"targets (keyhouse over direct): p50 +{added['keyhouse']['chat_p50_ms']:.2f} ms "
        f"(< {TARGET_ADDED_P50_MS:g}), stream TTFB +{added['keyhouse']['ttfb_p50_ms']:.2f} ms "
        f"(< {TARGET_ADDED_TTFB_MS:g}) → {ok}",
    ]
    return "\n".join(out)
