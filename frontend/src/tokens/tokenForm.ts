// Pure helpers behind the Create access token form and the token list.
import type { AccessTokenCreate, AccessTokenView } from "../api/types";

export type Scope = "all" | "some";

export interface TokenFormValues {
  name: string;
  scope: Scope;
  endpoints: string[];
}

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function createValues(): TokenFormValues {
  return { name: "", scope: "all", endpoints: [] };
}

export function validateToken(values: TokenFormValues): Record<string, string> {
  const errors: Record<string, string> = {};
  const name = values.name.trim();
  if (!name) errors.name = "Name is required.";
  else if (!NAME_RE.test(name))
    errors.name = "Use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit.";
  if (values.scope === "some" && values.endpoints.length === 0)
    errors.endpoints = "Choose at least one endpoint, or let the token call all of them.";
  return errors;
}

/** The request body: `endpoints` absent means "every endpoint, present and future". */
export function createBody(values: TokenFormValues): AccessTokenCreate {
  const body: AccessTokenCreate = { name: values.name.trim() };
  if (values.scope === "some") body.endpoints = [...values.endpoints];
  return body;
}

/** Server errors name "endpoints.3"; the form has one endpoints field. */
export function formPath(serverField: string): string {
  return serverField.startsWith("endpoints") ? "endpoints" : serverField;
}

export function scopeLabel(t: Pick<AccessTokenView, "endpoints">): string {
  if (t.endpoints === null || t.endpoints === undefined) return "All endpoints";
  if (t.endpoints.length === 0) return "No endpoints";
  return t.endpoints.join(", ");
}

/** Whether the API reports last use (usage tracking adds `last_used_at`). */
export function hasLastUsed(tokens: AccessTokenView[]): boolean {
  return tokens.some((t) => "last_used_at" in t);
}

export function pythonSample(origin: string, token: string, endpoint: string): string {
  return `from openai import OpenAI

client = OpenAI(base_url="${origin}/v1", api_key="${token}")
client.chat.completions.create(
    model="${endpoint}",
    messages=[{"role": "user", "content": "Hello"}],
)`;
}
