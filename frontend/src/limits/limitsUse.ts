// Pure helpers behind the lists' "use against each limit" cell: one line per limit set,
// with the use from GET /api/v1/limits/use when the limiter could report it.
import type { LimitsIn, LimitsUse, SubjectUse } from "../api/types";

export type LimitKind = "requests" | "tokens" | "concurrent" | "budget";

export interface LimitLine {
  kind: LimitKind;
  /** "3 / 5 rpm", "$0.02 of $1.00 this month"; the limit alone when use is unknown. */
  text: string;
  /** Share of the limit used (0..1+), or null when the use is unknown. */
  ratio: number | null;
}

const count = new Intl.NumberFormat("en-US");
const dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** "$0.02"; a cost too small to show in cents is "<$0.01", not a misleading "$0.00". */
export function money(usd: number): string {
  if (usd > 0 && usd < 0.005) return "<$0.01";
  return dollars.format(usd);
}

const THIS_PERIOD: Record<string, string> = { day: "today", week: "this week", month: "this month" };
const PER_PERIOD: Record<string, string> = { day: "a day", week: "a week", month: "a month" };

export function limitLines(limits: LimitsIn | null | undefined, use: SubjectUse | undefined): LimitLine[] {
  if (!limits) return [];
  const lines: LimitLine[] = [];
  const rate = (kind: "requests" | "tokens", limit: number, unit: string) => {
    const u = use?.[kind];
    if (!u) return lines.push({ kind, text: `${count.format(limit)} ${unit}`, ratio: null });
    const used = Math.max(0, u.limit - u.remaining);
    lines.push({ kind, text: `${count.format(used)} / ${count.format(u.limit)} ${unit}`, ratio: used / u.limit });
  };
  if (limits.requests_per_minute) rate("requests", limits.requests_per_minute, "rpm");
  if (limits.tokens_per_minute) rate("tokens", limits.tokens_per_minute, "tpm");
  if (limits.max_concurrent) {
    const u = use?.concurrent;
    lines.push(
      u
        ? { kind: "concurrent", text: `${count.format(u.in_use)} / ${count.format(u.limit)} at once`, ratio: u.in_use / u.limit }
        : { kind: "concurrent", text: `${count.format(limits.max_concurrent)} at once`, ratio: null },
    );
  }
  const budget = limits.budget;
  if (budget) {
    const u = use?.budget;
    const alert = budget.action === "alert" ? " (alert only)" : "";
    const period = budget.period ?? "month";
    lines.push(
      u
        ? {
            kind: "budget",
            text: `${money(u.spent_usd)} of ${money(u.usd)} ${THIS_PERIOD[u.period] ?? `this ${u.period}`}${alert}`,
            ratio: u.spent_usd / u.usd,
          }
        : { kind: "budget", text: `${money(budget.usd)} ${PER_PERIOD[period]}${alert}`, ratio: null },
    );
  }
  return lines;
}

/** The bar's colour: red from 80 % of a limit on ("near the limit"), yellow from half. */
export function levelColor(ratio: number): string {
  if (ratio >= 0.8) return "red";
  if (ratio >= 0.5) return "yellow";
  return "teal";
}

/** The use of one subject in the /limits/use answer. */
export function findUse(data: LimitsUse | undefined, scope: SubjectUse["scope"], id: string): SubjectUse | undefined {
  return data?.subjects.find((s) => s.scope === scope && s.id === id);
}
