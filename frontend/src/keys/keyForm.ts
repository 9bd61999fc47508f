// Pure helpers behind the Create/Edit API key form: initial values, validation and the
// request body (only what changed, only non-empty secrets).
import type { AuthMethodView, FieldView, KeyCheck, KeyCreate, KeyUpdate, KeyView, ProviderView, VerifyResult } from "../api/types";
import { limitsBody, limitsChanged, limitsValues, validateLimits, type LimitsValues } from "../limits/limitsForm";

export interface KeyFormValues {
  name: string;
  description: string;
  provider: string;
  auth_method: string;
  credentials: Record<string, string>;
  config: Record<string, string>;
  /** "Remind me to rotate after (days)": a NumberInput value, "" when empty. */
  rotate_after_days: number | string;
  limits: LimitsValues;
}

export const MAX_ROTATE_DAYS = 3650;

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function findMethod(providers: ProviderView[], provider: string, method: string): AuthMethodView | undefined {
  const p = providers.find((x) => x.id === provider);
  return p?.auth_methods.find((m) => m.id === method) ?? p?.auth_methods[0];
}

/** Fresh credential/config values for a method, carrying over same-named values. */
export function fieldsFor(
  method: AuthMethodView | undefined,
  previous?: Pick<KeyFormValues, "credentials" | "config">,
): Pick<KeyFormValues, "credentials" | "config"> {
  const credentials: Record<string, string> = {};
  const config: Record<string, string> = {};
  for (const f of method?.secret_fields ?? []) credentials[f.name] = previous?.credentials[f.name] ?? "";
  for (const f of method?.config_fields ?? []) config[f.name] = previous?.config[f.name] || (f.default ?? "");
  return { credentials, config };
}

export function createValues(): KeyFormValues {
  return { name: "", description: "", provider: "", auth_method: "", credentials: {}, config: {}, rotate_after_days: "", limits: limitsValues() };
}

export function editValues(key: KeyView, method: AuthMethodView | undefined): KeyFormValues {
  const credentials: Record<string, string> = {};
  const config: Record<string, string> = {};
  for (const f of method?.secret_fields ?? []) credentials[f.name] = "";
  for (const f of method?.config_fields ?? []) config[f.name] = key.config[f.name] ?? "";
  // Keep config the catalog no longer lists, so it is shown rather than silently lost.
  for (const [k, v] of Object.entries(key.config)) if (!(k in config)) config[k] = v;
  return {
    name: key.name,
    description: key.description ?? "",
    provider: key.provider,
    auth_method: key.auth_method,
    credentials,
    config,
    rotate_after_days: key.rotate_after_days ?? "",
    limits: limitsValues(key.limits),
  };
}

/** The reminder as a number of days; null when the box is empty. */
export function reminderDays(value: number | string): number | null {
  if (typeof value === "number") return value;
  return value.trim() === "" ? null : Number(value);
}

function jsonError(name: string, value: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return "This is not valid JSON.";
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "Paste the whole JSON object.";
  if (name === "service_account_json") {
    const sa = parsed as Record<string, unknown>;
    if (sa.type !== "service_account") return 'This is not a service-account key file ("type": "service_account").';
    for (const k of ["client_email", "private_key", "token_uri"]) {
      if (typeof sa[k] !== "string" || !sa[k]) return `The service-account JSON lacks "${k}".`;
    }
  }
  return null;
}

/** URL config changed in edit mode: the server then wants every required secret again. */
export function urlChanged(method: AuthMethodView | undefined, values: KeyFormValues, original?: KeyView): boolean {
  if (!original) return false;
  return (method?.config_fields ?? []).some(
    (f) => f.kind === "url" && (values.config[f.name] ?? "") !== (original.config[f.name] ?? ""),
  );
}

export function nameError(name: string, existing: KeyView[], selfId?: string): string | null {
  const n = name.trim();
  if (!n) return "Name is required.";
  if (!NAME_RE.test(n)) return "Use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit.";
  if (existing.some((k) => k.id !== selfId && k.name === n)) return `An API key named "${n}" already exists.`;
  return null;
}

export function validateKey(
  values: KeyFormValues,
  method: AuthMethodView | undefined,
  existing: KeyView[],
  original?: KeyView,
): Record<string, string> {
  const errors: Record<string, string> = {};
  const name = nameError(values.name, existing, original?.id);
  if (name) errors.name = name;
  if (!original && !values.provider) errors.provider = "Choose a provider.";
  const needSecrets = !original || urlChanged(method, values, original);
  for (const f of method?.secret_fields ?? []) {
    const v = values.credentials[f.name] ?? "";
    if (!v.trim()) {
      if (f.required && needSecrets) {
        errors[`credentials.${f.name}`] = original
          ? "Re-enter this value: a URL changed, so the credential must be confirmed."
          : `${f.label} is required.`;
      }
    } else if (f.kind === "json") {
      const e = jsonError(f.name, v);
      if (e) errors[`credentials.${f.name}`] = e;
    }
  }
  const days = reminderDays(values.rotate_after_days);
  if (days !== null && !(Number.isInteger(days) && days >= 1 && days <= MAX_ROTATE_DAYS)) {
    errors.rotate_after_days = `Enter a whole number of days from 1 to ${MAX_ROTATE_DAYS}, or leave it empty.`;
  }
  for (const f of method?.config_fields ?? []) {
    const v = (values.config[f.name] ?? "").trim();
    // What a URL may be is the server's rule alone (scheme, private addresses, metadata
    // services): its answer lands on this field, exactly as the CLI and the API get it.
    if (!v && f.required) errors[`config.${f.name}`] = `${f.label} is required.`;
  }
  return { ...errors, ...validateLimits(values.limits) };
}

function nonEmpty(values: Record<string, string>, fields: FieldView[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const v = values[f.name] ?? "";
    if (v.trim()) out[f.name] = f.kind === "json" ? v.trim() : v;
  }
  return out;
}

export function createBody(values: KeyFormValues, method: AuthMethodView | undefined): KeyCreate {
  const body: KeyCreate = {
    name: values.name.trim(),
    provider: values.provider,
    auth_method: method?.id ?? values.auth_method,
    credentials: nonEmpty(values.credentials, method?.secret_fields ?? []),
    config: Object.fromEntries(
      Object.entries(nonEmpty(values.config, method?.config_fields ?? [])).map(([k, v]) => [k, v.trim()]),
    ),
  };
  if (values.description.trim()) body.description = values.description.trim();
  const days = reminderDays(values.rotate_after_days);
  if (days !== null) body.rotate_after_days = days;
  const limits = limitsBody(values.limits);
  if (limits) body.limits = limits;
  return body;
}

/** Only what changed; secrets only when typed (an empty secret means "keep"). */
export function updateBody(values: KeyFormValues, method: AuthMethodView | undefined, original: KeyView): KeyUpdate {
  const body: KeyUpdate = {};
  if (values.name.trim() !== original.name) body.name = values.name.trim();
  if (values.description.trim() !== (original.description ?? "")) body.description = values.description.trim();
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(values.config)) {
    if (v.trim() !== (original.config[k] ?? "")) config[k] = v.trim();
  }
  if (Object.keys(config).length) body.config = config;
  const credentials = nonEmpty(values.credentials, method?.secret_fields ?? []);
  if (Object.keys(credentials).length) body.credentials = credentials;
  const days = reminderDays(values.rotate_after_days);
  // 0 is how the API spells "no reminder".
  if (days !== (original.rotate_after_days ?? null)) body.rotate_after_days = days ?? 0;
  // null removes the key's limits.
  if (limitsChanged(values.limits, original.limits)) body.limits = limitsBody(values.limits);
  return body;
}

/** "3 endpoints now use", "1 endpoint now uses". */
function endpointsNowUse(n: number): string {
  return n === 1 ? "1 endpoint now uses" : `${n} endpoints now use`;
}

export function savedMessage(updated: KeyView, credentialChanged: boolean): string {
  const n = updated.endpoints.length;
  if (credentialChanged) {
    if (n === 0) return "Saved. No endpoints use this key yet.";
    return `Saved. ${endpointsNowUse(n)} the new credential.`;
  }
  return "Saved.";
}

export function restoredMessage(restored: number, updated: KeyView): string {
  const n = updated.endpoints.length;
  const head = `Version ${restored} is current again (as version ${updated.credential_version}).`;
  if (n === 0) return `${head} No endpoints use this key yet.`;
  return `${head} ${endpointsNowUse(n)} the restored credential.`;
}

/** What a Save & test sends to the verify call: the changed credential and settings. */
export function testBody(body: KeyUpdate): KeyCheck | null {
  if (!body.credentials) return null;
  return body.config ? { credentials: body.credentials, config: body.config } : { credentials: body.credentials };
}

/** A test result that stops the save until the user says "save anyway". */
export function blocksSave(result: Pick<VerifyResult, "status">): boolean {
  return result.status !== "ok" && result.status !== "unsupported";
}
