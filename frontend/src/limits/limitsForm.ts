// Pure helpers behind the limits editor, shared by the token, endpoint and key forms.
// The values keep the API's shape ({requests_per_minute, ..., budget: {usd, period,
// action}}) under the form's `limits` field, so a server error on
// "limits.budget.usd" names the form path of the input that caused it.
import type { BudgetIn, LimitsIn } from "../api/types";

export type Period = BudgetIn["period"] & string;
export type Action = BudgetIn["action"] & string;

export interface LimitsValues {
  /** NumberInput values: "" when the box is empty (no limit). */
  requests_per_minute: number | string;
  tokens_per_minute: number | string;
  max_concurrent: number | string;
  budget: { usd: number | string; period: Period; action: Action };
}

// The server's bounds (admin/schemas.py: PerMinute, max_concurrent, USD).
export const MAX_PER_MINUTE = 100_000_000;
export const MAX_CONCURRENT = 100_000;
export const MAX_USD = 1_000_000;

export const PERIODS: { value: Period; label: string }[] = [
  { value: "day", label: "Per day" },
  { value: "week", label: "Per week" },
  { value: "month", label: "Per month" },
];

export const ACTIONS: { value: Action; label: string }[] = [
  { value: "reject", label: "Reject calls (429)" },
  { value: "alert", label: "Alert only" },
];

/** The form paths of the editor's inputs, which are also the server's error paths. */
export const LIMIT_PATHS = [
  "limits.requests_per_minute",
  "limits.tokens_per_minute",
  "limits.max_concurrent",
  "limits.budget.usd",
  "limits.budget.period",
  "limits.budget.action",
] as const;

export function isLimitsPath(path: string): boolean {
  return (LIMIT_PATHS as readonly string[]).includes(path);
}

const blank = (v: number | null | undefined): number | string => (v === null || v === undefined ? "" : v);

export function limitsValues(limits?: LimitsIn | null): LimitsValues {
  return {
    requests_per_minute: blank(limits?.requests_per_minute),
    tokens_per_minute: blank(limits?.tokens_per_minute),
    max_concurrent: blank(limits?.max_concurrent),
    budget: {
      usd: blank(limits?.budget?.usd),
      period: limits?.budget?.period ?? "month",
      action: limits?.budget?.action ?? "reject",
    },
  };
}

function number(v: number | string): number | null {
  if (typeof v === "number") return v;
  return v.trim() === "" ? null : Number(v);
}

function wholeError(v: number | string, max: number): string | null {
  const n = number(v);
  if (n === null) return null;
  if (!Number.isInteger(n) || n < 1 || n > max)
    return `A whole number from 1 to ${max.toLocaleString("en-US")}, or empty for no limit.`;
  return null;
}

/** Errors keyed by form path (LIMIT_PATHS); empty values are "no limit" and always valid. */
export function validateLimits(v: LimitsValues): Record<string, string> {
  const errors: Record<string, string> = {};
  const checks: [string, string | null][] = [
    ["limits.requests_per_minute", wholeError(v.requests_per_minute, MAX_PER_MINUTE)],
    ["limits.tokens_per_minute", wholeError(v.tokens_per_minute, MAX_PER_MINUTE)],
    ["limits.max_concurrent", wholeError(v.max_concurrent, MAX_CONCURRENT)],
  ];
  for (const [path, message] of checks) if (message) errors[path] = message;
  const usd = number(v.budget.usd);
  if (usd !== null && !(Number.isFinite(usd) && usd > 0 && usd <= MAX_USD))
    errors["limits.budget.usd"] = `More than $0, at most $${MAX_USD.toLocaleString("en-US")}, or empty for no budget.`;
  return errors;
}

/** The request's `limits`: only those set; null when none is (the API's "no limits"). */
export function limitsBody(v: LimitsValues): LimitsIn | null {
  const body: LimitsIn = {};
  const rpm = number(v.requests_per_minute);
  const tpm = number(v.tokens_per_minute);
  const concurrent = number(v.max_concurrent);
  const usd = number(v.budget.usd);
  if (rpm !== null) body.requests_per_minute = rpm;
  if (tpm !== null) body.tokens_per_minute = tpm;
  if (concurrent !== null) body.max_concurrent = concurrent;
  if (usd !== null) body.budget = { usd, period: v.budget.period, action: v.budget.action };
  return Object.keys(body).length ? body : null;
}

/** Whether the form's limits differ from the stored ones (so an edit sends them). */
export function limitsChanged(v: LimitsValues, original?: LimitsIn | null): boolean {
  return JSON.stringify(limitsBody(v)) !== JSON.stringify(limitsBody(limitsValues(original)));
}

/** How many limits are set, for the editor's collapsed summary. */
export function limitsCount(limits?: LimitsIn | null): number {
  if (!limits) return 0;
  return [limits.requests_per_minute, limits.tokens_per_minute, limits.max_concurrent, limits.budget].filter(
    (x) => x !== null && x !== undefined,
  ).length;
}
