import { describe, expect, it } from "vitest";
import type { SubjectUse } from "../api/types";
import {
  isLimitsPath,
  LIMIT_PATHS,
  limitsBody,
  limitsChanged,
  limitsCount,
  limitsValues,
  validateLimits,
  type LimitsValues,
} from "./limitsForm";
import { findUse, levelColor, limitLines, money } from "./limitsUse";

const values = (over: Partial<LimitsValues> = {}): LimitsValues => ({ ...limitsValues(), ...over });
const budget = (usd: number | string, period: "day" | "week" | "month" = "month", action: "reject" | "alert" = "reject") => ({
  usd,
  period,
  action,
});

describe("the limits editor's values", () => {
  it("are empty for no limits, and all empty means no limits in the body", () => {
    expect(limitsValues(null)).toEqual({
      requests_per_minute: "",
      tokens_per_minute: "",
      max_concurrent: "",
      budget: budget(""),
    });
    expect(limitsBody(limitsValues())).toBeNull();
    expect(validateLimits(limitsValues())).toEqual({});
  });

  it("send only the limits set, with the budget's period and action", () => {
    expect(limitsBody(values({ requests_per_minute: 5, budget: budget(1.5, "week", "alert") }))).toEqual({
      requests_per_minute: 5,
      budget: { usd: 1.5, period: "week", action: "alert" },
    });
    // A period chosen without an amount is not a budget.
    expect(limitsBody(values({ budget: budget("", "day", "alert") }))).toBeNull();
    expect(limitsBody(values({ tokens_per_minute: "1000", max_concurrent: 2 }))).toEqual({
      tokens_per_minute: 1000,
      max_concurrent: 2,
    });
  });

  it("round-trip what the API stores (nulls included)", () => {
    const stored = {
      requests_per_minute: 5,
      tokens_per_minute: null,
      max_concurrent: 3,
      budget: { usd: 2, period: "day" as const, action: "reject" as const },
    };
    expect(limitsBody(limitsValues(stored))).toEqual({ requests_per_minute: 5, max_concurrent: 3, budget: stored.budget });
    expect(limitsChanged(limitsValues(stored), stored)).toBe(false);
    expect(limitsChanged(values({ requests_per_minute: 6 }), stored)).toBe(true);
    expect(limitsChanged(limitsValues(), null)).toBe(false);
    expect(limitsChanged(limitsValues(), stored)).toBe(true);
  });

  it("agree with the server's bounds, field by field", () => {
    // Each per-minute field: a whole number from 1 (the server's ge=1) to its maximum.
    const bounds: [keyof LimitsValues, number][] = [
      ["requests_per_minute", 100_000_000],
      ["tokens_per_minute", 100_000_000],
      ["max_concurrent", 100_000],
    ];
    for (const [field, max] of bounds) {
      const path = `limits.${field}`;
      for (const bad of [0, -1, 1.5, max + 1, "abc"]) expect(validateLimits(values({ [field]: bad }))).toHaveProperty(path);
      for (const good of [1, max, "", "7"]) expect(validateLimits(values({ [field]: good }))).toEqual({});
    }
    for (const bad of [0, -0.01, 1_000_001, "x"])
      expect(validateLimits(values({ budget: budget(bad) }))).toHaveProperty(["limits.budget.usd"]);
    for (const good of [0.01, 1_000_000, ""]) expect(validateLimits(values({ budget: budget(good) }))).toEqual({});
  });

  it("name every input by the path the server's errors use", () => {
    for (const path of LIMIT_PATHS) expect(isLimitsPath(path)).toBe(true);
    expect(isLimitsPath("limits")).toBe(false);
    expect(isLimitsPath("name")).toBe(false);
    const everyError = validateLimits({
      requests_per_minute: 0,
      tokens_per_minute: 0,
      max_concurrent: 0,
      budget: budget(0),
    });
    for (const path of Object.keys(everyError)) expect(isLimitsPath(path)).toBe(true);
    expect(Object.keys(everyError)).toHaveLength(4);
  });

  it("count the limits set", () => {
    expect(limitsCount(null)).toBe(0);
    expect(limitsCount({ requests_per_minute: 5, tokens_per_minute: null, budget: { usd: 1 } })).toBe(2);
  });
});

const use = (over: Partial<SubjectUse> = {}): SubjectUse => ({ scope: "token", id: "t1", name: "app", ...over });

describe("the use shown against each limit", () => {
  it("shows every limit set, with its use", () => {
    const lines = limitLines(
      { requests_per_minute: 5, tokens_per_minute: 10_000, max_concurrent: 2, budget: { usd: 1, period: "month" } },
      use({
        requests: { limit: 5, remaining: 2, reset_seconds: 30 },
        tokens: { limit: 10_000, remaining: 8_800, reset_seconds: 30 },
        concurrent: { limit: 2, in_use: 1 },
        budget: { usd: 1, period: "month", action: "reject", period_start: "2026-12-01T00:00:00Z", spent_usd: 0.02 },
      }),
    );
    expect(lines.map((l) => l.text)).toEqual(["3 / 5 rpm", "1,200 / 10,000 tpm", "1 / 2 at once", "$0.02 of $1.00 this month"]);
    expect(lines.map((l) => l.ratio)).toEqual([0.6, 0.12, 0.5, 0.02]);
  });

  it("shows the limit alone when the limiter could not report use", () => {
    const lines = limitLines({ requests_per_minute: 5, budget: { usd: 20, period: "week", action: "alert" } }, undefined);
    expect(lines).toEqual([
      { kind: "requests", text: "5 rpm", ratio: null },
      { kind: "budget", text: "$20.00 a week (alert only)", ratio: null },
    ]);
    expect(limitLines(null, use())).toEqual([]);
  });

  it("names the budget's period", () => {
    for (const [period, word] of [
      ["day", "today"],
      ["week", "this week"],
      ["month", "this month"],
    ]) {
      const [line] = limitLines(
        { budget: { usd: 1, period: period as "day" } },
        use({ budget: { usd: 1, period, action: "reject", period_start: "2026-12-01T00:00:00Z", spent_usd: 1 } }),
      );
      expect(line.text).toBe(`$1.00 of $1.00 ${word}`);
      expect(line.ratio).toBe(1);
    }
  });

  it("turns red near the limit", () => {
    expect(levelColor(0)).toBe("teal");
    expect(levelColor(0.5)).toBe("yellow");
    expect(levelColor(0.8)).toBe("red");
    expect(levelColor(1.2)).toBe("red");
  });

  it("never rounds a small cost to nothing", () => {
    expect(money(0)).toBe("$0.00");
    expect(money(0.0004)).toBe("<$0.01");
    expect(money(1234.5)).toBe("$1,234.50");
  });

  it("finds a subject by scope and id", () => {
    const data = { store: "memory", shared: false, reachable: true, subjects: [use(), use({ scope: "key" })] };
    expect(findUse(data, "key", "t1")?.scope).toBe("key");
    expect(findUse(data, "endpoint", "t1")).toBeUndefined();
    expect(findUse(undefined, "token", "t1")).toBeUndefined();
  });
});
