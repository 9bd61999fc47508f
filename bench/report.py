"""Turn raw samples into the summary and the table the benchmark prints."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

# Issue 10's targets, keyhouse against direct (the fake upstream itself), from one run.
TARGET_ADDED_P50_MS = 0.5
TARGET_ADDED_TTFB_MS = 0.5
TARGET_RPS_SHARE = 0.80  # of direct's requests per second at 32 callers
TARGET_P99_RATIO = 2.0  # keyhouse's c32 p99 over direct's
TARGET_RSS_MB = 120.0
TARGET_STARTUP_S = 1.0
NAMES = ("direct", "bare", "keyhouse")
# The same Keyhouse with one thing changed (bench/run.py start_variants), when present.
VARIANTS = {
    "no-usage": "usage recording off",
    "limits": "every limit on the token, per-process counters",
    "redis": "the same limits, counters in Redis",
}


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the samples."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _cpu(run: JSON) -> float:
    value = run.get("server_cpu_ms_per_request")
    return float(value) if value is not None else float("nan")


def summarise(
    raw: JSON, rss_kb: JSON | None = None, startup_s: float | None = None, long_tokens: int = 500
) -> JSON:
    rows: JSON = {}
    names = [n for n in (*NAMES, *VARIANTS) if n in raw["latency"]]
    for name in names:
        lat = raw["latency"][name]
        tp = raw["throughput"][name]
        long = tp.get("long_stream", {"rps": 0.0, "errors": 0})
        rows[name] = {
            "chat_p50_ms": percentile(lat["chat"], 50),
            "chat_p99_ms": percentile(lat["chat"], 99),
            "ttfb_p50_ms": percentile(lat["stream_ttfb"], 50),
            "ttfb_p99_ms": percentile(lat["stream_ttfb"], 99),
            "stream_p50_ms": percentile(lat["stream_total"], 50),
            "chat_rps": tp["chat"]["rps"],
            "chat_c32_p50_ms": percentile(tp["chat"].get("latencies_ms", []), 50),
            "chat_c32_p99_ms": percentile(tp["chat"].get("latencies_ms", []), 99),
            "stream_rps": tp["stream"]["rps"],
            "tokens_per_s": long["rps"] * long_tokens,
            "chat_cpu_ms": _cpu(tp["chat"]),
            "stream_cpu_ms": _cpu(tp["stream"]),
            "long_cpu_ms": _cpu(long),
            "errors": tp["chat"]["errors"] + tp["stream"]["errors"] + long["errors"],
            "samples": len(lat["chat"]),
        }
    direct = rows["direct"]
    added = {
        name: {
            "chat_p50_ms": rows[name]["chat_p50_ms"] - direct["chat_p50_ms"],
            "chat_p99_ms": rows[name]["chat_p99_ms"] - direct["chat_p99_ms"],
            "ttfb_p50_ms": rows[name]["ttfb_p50_ms"] - direct["ttfb_p50_ms"],
        }
        for name in names[1:]
    }
    share = {
        name: rows[name]["chat_rps"] / direct["chat_rps"] if direct["chat_rps"] else 0.0
        for name in names[1:]
    }
    p99_ratio = {
        name: (
            rows[name]["chat_c32_p99_ms"] / direct["chat_c32_p99_ms"]
            if direct["chat_c32_p99_ms"]
            else float("inf")
        )
        for name in names[1:]
    }
    rss_mb = (rss_kb or {}).get("VmRSS", 0) / 1024
    kh = "keyhouse"
    targets = {
        "added_p50": (
            added[kh]["chat_p50_ms"],
            TARGET_ADDED_P50_MS,
            added[kh]["chat_p50_ms"] <= TARGET_ADDED_P50_MS,
        ),
        "added_ttfb": (
            added[kh]["ttfb_p50_ms"],
            TARGET_ADDED_TTFB_MS,
            added[kh]["ttfb_p50_ms"] <= TARGET_ADDED_TTFB_MS,
        ),
        "rps_share": (share[kh], TARGET_RPS_SHARE, share[kh] >= TARGET_RPS_SHARE),
        "c32_p99_ratio": (p99_ratio[kh], TARGET_P99_RATIO, p99_ratio[kh] <= TARGET_P99_RATIO),
        "rss_mb": (rss_mb, TARGET_RSS_MB, rss_kb is None or rss_mb <= TARGET_RSS_MB),
        "startup_s": (
            startup_s,
            TARGET_STARTUP_S,
            startup_s is None or startup_s <= TARGET_STARTUP_S,
        ),
        "errors": (rows[kh]["errors"], 0, rows[kh]["errors"] == 0),
    }
    met = all(ok for _, _, ok in targets.values())
    # The same measures of the floor, printed beside each target: whether a miss is
    # Keyhouse's own or the machine's shows only against the floor in the same run.
    floor = {
        "added_p50": added["bare"]["chat_p50_ms"],
        "added_ttfb": added["bare"]["ttfb_p50_ms"],
        "rps_share": share["bare"],
        "c32_p99_ratio": p99_ratio["bare"],
    }
    return {
        "names": names,
        "rows": rows,
        "added_over_direct": added,
        "rps_share_of_direct": share,
        "c32_p99_over_direct": p99_ratio,
        "targets": targets,
        "floor": floor,
        "targets_met": met,
    }


def render(result: JSON) -> str:
    s = result["summary"]
    rows, added = s["rows"], s["added_over_direct"]
    conc = result["plan"]["throughput"]["concurrency"]
    long_conc = result["plan"]["throughput"].get("long_concurrency", 8)

    def line(
        label: str, key: str, fmt: str = "{:8.2f}", added_key: str | None = None, extra: str = ""
    ) -> str:
        cells = [fmt.format(rows[n][key]) for n in NAMES]
        if added_key:
            extra = "".join(f"{added[n][added_key]:+10.2f}" for n in ("bare", "keyhouse"))
        return f"{label:<30}" + "".join(f"{c:>10}" for c in cells) + extra

    def share(key: str, fmt: str) -> str:
        return "".join(f"{fmt.format(s[key][n]):>10}" for n in ("bare", "keyhouse"))

    header = f"{'':<30}" + "".join(f"{n:>10}" for n in NAMES) + f"{'bare':>10}{'keyhouse':>10}"
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
        f"sequential requests per target; throughput: {conc} concurrent callers x "
        f"{plan['throughput']['seconds']:g} s in {plan['throughput'].get('rounds', 1)} "
        f"interleaved rounds (median); streaming throughput: {long_conc} callers "
        f"reading {plan['throughput'].get('long_tokens', 500)}-token streams",
        "",
        header,
        f"{'':<60}{'(added over direct)':>20}",
        line("chat p50 (ms)", "chat_p50_ms", added_key="chat_p50_ms"),
        line("chat p99 (ms)", "chat_p99_ms", added_key="chat_p99_ms"),
        line("stream TTFB p50 (ms)", "ttfb_p50_ms", added_key="ttfb_p50_ms"),
        line("stream TTFB p99 (ms)", "ttfb_p99_ms"),
        line("stream whole p50 (ms)", "stream_p50_ms"),
        f"{'':<60}{'(share of direct)':>20}",
        line(
            f"chat req/s @{conc}",
            "chat_rps",
            "{:8.0f}",
            extra=share("rps_share_of_direct", "{:.0%}"),
        ),
        line(
            f"chat p99 @{conc} (ms)",
            "chat_c32_p99_ms",
            extra=share("c32_p99_over_direct", "{:.2f}x"),
        ),
        line(f"stream req/s @{conc}", "stream_rps", "{:8.0f}"),
        line(f"stream tokens/s @{long_conc}", "tokens_per_s", "{:8.0f}"),
        line("server CPU ms/req, chat", "chat_cpu_ms", "{:8.3f}"),
        line("server CPU ms/req, stream", "stream_cpu_ms", "{:8.3f}"),
        line("server CPU ms/long stream", "long_cpu_ms", "{:8.2f}"),
        line("errors", "errors", "{:8d}"),
        "",
        f"keyhouse RSS: {rss.get('VmRSS', 0) / 1024:.1f} MB after load "
        f"(idle {idle.get('VmRSS', 0) / 1024:.1f} MB, peak {rss.get('VmHWM', 0) / 1024:.1f} MB); "
        f"start-up to first answer {result.get('keyhouse_startup_seconds', float('nan')):.2f} s "
        f"(median of {_samples(result)})",
        "(server CPU: the upstream's own for direct, the proxy process's for bare and "
        "keyhouse; it depends least on what else the machine is running)",
    ]
    variants = [n for n in s.get("names", NAMES) if n in VARIANTS]
    if variants:
        out += [
            "",
            "the same Keyhouse with one thing changed (same run; Δ = against keyhouse):",
            f"{'':<52}{'added p50':>10}{'Δ p50':>8}{'TTFB add':>10}"
            f"{'req/s':>8}{'CPU ms':>8}{'Δ CPU':>8}",
        ]
        base = rows["keyhouse"]
        for n in variants:
            r, a = rows[n], added[n]
            out.append(
                f"  {n + ': ' + VARIANTS[n]:<50}{a['chat_p50_ms']:>+10.2f}"
                f"{r['chat_p50_ms'] - base['chat_p50_ms']:>+8.2f}{a['ttfb_p50_ms']:>+10.2f}"
                f"{s['rps_share_of_direct'][n]:>8.0%}{r['chat_cpu_ms']:>8.3f}"
                f"{r['chat_cpu_ms'] - base['chat_cpu_ms']:>+8.3f}"
            )
        out.append(f"  (req/s: share of direct at {conc} callers; CPU: server ms per chat)")
    out += instruction_lines(result.get("instructions"))
    out += [
        "",
        "targets (keyhouse, from this run; the floor's own figure beside it):",
    ]
    labels = {
        "added_p50": ("added p50", "ms", "<="),
        "added_ttfb": ("stream TTFB added", "ms", "<="),
        "rps_share": (f"req/s @{conc} share of direct", "", ">="),
        "c32_p99_ratio": (f"p99 @{conc} over direct", "x", "<="),
        "rss_mb": ("RSS after load", "MB", "<="),
        "startup_s": ("start-up to first answer", "s", "<="),
        "errors": ("errors", "", "=="),
    }
    floor = s.get("floor", {})
    for key, (value, bound, passed) in s["targets"].items():
        label, unit, op = labels[key]
        shown = "n/a" if value is None else f"{value:.2f}"
        verdict = "ok" if passed else "MISSED"
        beside = f"   (bare {floor[key]:.2f})" if key in floor else ""
        out.append(f"  {label:<32} {shown:>8} {unit:<2} ({op} {bound:g})  {verdict:<6}{beside}")
    out.append(f"→ {ok}")
    return "\n".join(out)


def _samples(result: JSON) -> str:
    samples = result.get("keyhouse_startup_samples") or []
    return ", ".join(f"{x:.2f}" for x in samples) or "one"


def instruction_lines(counted: JSON | None) -> list[str]:
    """The callgrind section (bench/instructions.py): millions of instructions per
    request, the floor's and Keyhouse's, and their ratio."""
    if not counted:
        return []
    if "skipped" in counted:
        return ["", f"instructions per request: not counted ({counted['skipped']})"]
    out = [
        "",
        "instructions per request (callgrind; within 1-2 % the same on any run of this code):",
        f"{'':<34}{'bare':>10}{'keyhouse':>10}{'ratio':>9}",
    ]
    scopes = {"main": "event-loop thread", "all": "all threads"}
    for kind in ("chat", "stream"):
        for scope, label in scopes.items():
            bare = counted["bare"][kind][scope] / 1e6
            keyhouse = counted["keyhouse"][kind][scope] / 1e6
            row = f"  {kind + ', ' + label:<32}{bare:>8.3f} M{keyhouse:>8.3f} M"
            out.append(f"{row}{keyhouse / bare:>8.2f}x")
    out.append(
        "  (all threads: Keyhouse's usage writer and config poll run on timers, and under "
        "callgrind a call lasts ~50x longer, so their share per call is overstated)"
    )
    return out
