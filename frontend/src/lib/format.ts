const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

/** "Mar 3, 2025, 10:12 AM"; the raw string when it is not a date. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** "5 minutes ago", "yesterday", "just now". */
export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const seconds = Math.round((t - now) / 1000);
  for (const [i, [unit, size]] of UNITS.entries()) {
    if (Math.abs(seconds) < size) continue;
    const count = Math.round(seconds / size);
    // Rounded up to the next unit (59.6 minutes are 60): say "in 1 hour", as a
    // moment earlier, not "in 60 minutes".
    const larger = UNITS[i - 1];
    if (larger && Math.abs(count * size) >= larger[1]) {
      return relative.format(Math.round(seconds / larger[1]), larger[0]);
    }
    return relative.format(count, unit);
  }
  return "just now";
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
