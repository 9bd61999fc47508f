// Pure helpers behind the access token form (create and edit), rotation and the list.
import type { AccessTokenCreate, AccessTokenUpdate, AccessTokenView } from "../api/types";
import { isLimitsPath, limitsBody, limitsChanged, limitsValues, validateLimits, type LimitsValues } from "../limits/limitsForm";

export type Scope = "all" | "some";
/** "never", a number of days from now, a chosen date, or (edit) the current expiry. */
export type Expiry = "never" | "7" | "30" | "90" | "date";

export interface TokenFormValues {
  name: string;
  scope: Scope;
  endpoints: string[];
  expiry: Expiry;
  /** The date input's value, "YYYY-MM-DD" (local); used when expiry is "date". */
  expiry_date: string;
  limits: LimitsValues;
}

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DAY_MS = 24 * 3600_000;

export const EXPIRY_OPTIONS: { value: Expiry; label: string }[] = [
  { value: "never", label: "Never" },
  { value: "7", label: "In 7 days" },
  { value: "30", label: "In 30 days" },
  { value: "90", label: "In 90 days" },
  { value: "date", label: "On a date" },
];

export const GRACE_OPTIONS = [
  { value: "0", label: "None" },
  { value: "3600", label: "1 hour" },
  { value: "86400", label: "24 hours" },
];

const pad = (n: number) => String(n).padStart(2, "0");

/** A moment as the local calendar date the date input shows. */
export function localDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The end of a local calendar day: a token set to expire "on" a date works through it. */
export function endOfDay(date: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const [y, month, day] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
  const d = new Date(y, month, day);
  // Date rolls "2027-13-45" over into another day: only a real calendar day counts.
  if (d.getFullYear() !== y || d.getMonth() !== month || d.getDate() !== day) return null;
  return new Date(y, month, day + 1);
}

export function createValues(): TokenFormValues {
  return { name: "", scope: "all", endpoints: [], expiry: "never", expiry_date: "", limits: limitsValues() };
}

export function editValues(t: AccessTokenView): TokenFormValues {
  // The day the token stops working (an end-of-day expiry is midnight of the next day).
  const expires = t.expires_at ? new Date(new Date(t.expires_at).getTime() - 1) : null;
  return {
    name: t.name,
    scope: t.endpoints === null || t.endpoints === undefined ? "all" : "some",
    endpoints: [...(t.endpoints ?? [])],
    expiry: expires ? "date" : "never",
    expiry_date: expires ? localDate(expires) : "",
    limits: limitsValues(t.limits),
  };
}

export function validateToken(values: TokenFormValues, now = new Date()): Record<string, string> {
  const errors: Record<string, string> = {};
  const name = values.name.trim();
  if (!name) errors.name = "Name is required.";
  else if (!NAME_RE.test(name))
    errors.name = "Use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit.";
  if (values.scope === "some" && values.endpoints.length === 0)
    errors.endpoints = "Choose at least one endpoint, or let the token call all of them.";
  if (values.expiry === "date") {
    const end = endOfDay(values.expiry_date);
    if (!end) errors.expiry_date = "Choose the last day the token works.";
    else if (end.getTime() <= now.getTime()) errors.expiry_date = "Choose today or a later day.";
  }
  return { ...errors, ...validateLimits(values.limits) };
}

/** When the token expires: null for never. */
export function expiresAt(values: Pick<TokenFormValues, "expiry" | "expiry_date">, now = new Date()): string | null {
  if (values.expiry === "never") return null;
  if (values.expiry === "date") return endOfDay(values.expiry_date)?.toISOString() ?? null;
  return new Date(now.getTime() + Number(values.expiry) * DAY_MS).toISOString();
}

/** The request body: `endpoints` absent means "every endpoint, present and future". */
export function createBody(values: TokenFormValues, now = new Date()): AccessTokenCreate {
  const body: AccessTokenCreate = { name: values.name.trim() };
  if (values.scope === "some") body.endpoints = [...values.endpoints];
  const expires = expiresAt(values, now);
  if (expires) body.expires_at = expires;
  const limits = limitsBody(values.limits);
  if (limits) body.limits = limits;
  return body;
}

/** Only what changed: `null` means "all endpoints", "never expires", "no limits". */
export function updateBody(values: TokenFormValues, original: AccessTokenView, now = new Date()): AccessTokenUpdate {
  const body: AccessTokenUpdate = {};
  const before = editValues(original);
  if (values.name.trim() !== original.name) body.name = values.name.trim();
  const endpoints = values.scope === "some" ? [...values.endpoints] : null;
  if (JSON.stringify(endpoints) !== JSON.stringify(original.endpoints ?? null)) body.endpoints = endpoints;
  // An untouched date keeps the stored moment (which a "30 days" choice set to the second).
  if (values.expiry !== before.expiry || values.expiry_date !== before.expiry_date) body.expires_at = expiresAt(values, now);
  if (limitsChanged(values.limits, original.limits)) body.limits = limitsBody(values.limits);
  return body;
}

/** Server errors onto form fields: "endpoints.3" onto the endpoints field, "expires_at"
 * onto the input that set it; null for an error no field shows. */
export function formPath(serverField: string, values?: Pick<TokenFormValues, "expiry">): string | null {
  if (serverField.startsWith("endpoints")) return "endpoints";
  if (serverField === "expires_at") return values?.expiry === "date" ? "expiry_date" : "expiry";
  if (serverField === "name" || isLimitsPath(serverField)) return serverField;
  return null;
}

export function scopeLabel(t: Pick<AccessTokenView, "endpoints">): string {
  if (t.endpoints === null || t.endpoints === undefined) return "All endpoints";
  if (t.endpoints.length === 0) return "No endpoints";
  return t.endpoints.join(", ");
}

export function isExpired(t: Pick<AccessTokenView, "expires_at">, now = Date.now()): boolean {
  return Boolean(t.expires_at) && new Date(t.expires_at as string).getTime() <= now;
}

export function pythonSample(origin: string, token: string, endpoint: string): string {
  return `from openai import OpenAI

client = OpenAI(base_url="${origin}/v1", api_key="${token}")
client.chat.completions.create(
    model="${endpoint}",
    messages=[{"role": "user", "content": "Hello"}],
)`;
}
