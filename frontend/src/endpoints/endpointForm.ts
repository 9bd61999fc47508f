// Pure helpers behind the endpoint form.
import type { EndpointCreate, EndpointUpdate, EndpointView, TargetIn } from "../api/types";
import { limitsBody, limitsChanged, limitsValues, validateLimits, type LimitsValues } from "../limits/limitsForm";

export type Task = "chat" | "embeddings";
export type Role = "primary" | "fallback";

export interface TargetValues {
  key_id: string | null;
  model: string;
  weight: number | string;
  role: Role;
}

export interface EndpointFormValues {
  name: string;
  description: string;
  task: Task;
  targets: TargetValues[];
  aliases: string[];
  timeout_seconds: number | string;
  connect_timeout_seconds: number | string;
  max_retries: number | string;
  limits: LimitsValues;
}

const asTask = (t: string): Task => (t === "embeddings" ? "embeddings" : "chat");
const asRole = (r: string): Role => (r === "fallback" ? "fallback" : "primary");

export const emptyTarget = (role: Role = "primary"): TargetValues => ({ key_id: null, model: "", weight: 1, role });

export function createValues(defaultKey: string | null): EndpointFormValues {
  return {
    name: "",
    description: "",
    task: "chat",
    targets: [{ ...emptyTarget(), key_id: defaultKey }],
    aliases: [],
    timeout_seconds: "",
    connect_timeout_seconds: "",
    max_retries: "",
    limits: limitsValues(),
  };
}

export function editValues(e: EndpointView): EndpointFormValues {
  return {
    name: e.name,
    description: e.description ?? "",
    task: asTask(e.task),
    targets: e.targets.map((t) => ({ key_id: t.key_id, model: t.model, weight: t.weight, role: asRole(t.role) })),
    aliases: [...(e.aliases ?? [])],
    timeout_seconds: e.timeout_seconds,
    connect_timeout_seconds: e.connect_timeout_seconds,
    max_retries: e.max_retries,
    limits: limitsValues(e.limits),
  };
}

export function validateEndpoint(
  v: EndpointFormValues,
  existing: EndpointView[],
  selfId?: string,
): Record<string, string> {
  const errors: Record<string, string> = {};
  const name = v.name.trim();
  if (!name) errors.name = "Name is required.";
  else if (existing.some((e) => e.id !== selfId && e.name === name)) errors.name = `An endpoint named "${name}" already exists.`;
  const aliasProblem = validateAliases(v.aliases, name, existing, selfId);
  if (aliasProblem) errors.aliases = aliasProblem;
  if (v.targets.length === 0) errors.targets = "Add at least one target.";
  else if (!v.targets.some((t) => t.role === "primary")) errors.targets = "At least one target must be primary.";
  v.targets.forEach((t, i) => {
    if (!t.key_id) errors[`targets.${i}.key_id`] = "Choose an API key.";
    if (!t.model.trim()) errors[`targets.${i}.model`] = "Model is required.";
    const w = Number(t.weight);
    if (!Number.isInteger(w) || w < 1 || w > 100) errors[`targets.${i}.weight`] = "1 to 100.";
  });
  const timeout = Number(v.timeout_seconds);
  if (v.timeout_seconds !== "" && !(timeout > 0 && timeout <= 600)) errors.timeout_seconds = "More than 0, at most 600.";
  const connect = Number(v.connect_timeout_seconds);
  if (v.connect_timeout_seconds !== "" && !(connect > 0 && connect <= 60))
    errors.connect_timeout_seconds = "More than 0, at most 60.";
  const retries = Number(v.max_retries);
  if (v.max_retries !== "" && !(Number.isInteger(retries) && retries >= 0 && retries <= 5)) errors.max_retries = "0 to 5.";
  return { ...errors, ...validateLimits(v.limits) };
}

// The server's rule (admin/schemas.py ALIAS_PATTERN): model names as agents spell them.
const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;

export function validateAliases(aliases: string[], name: string, existing: EndpointView[], selfId?: string): string | null {
  const seen = new Set<string>();
  for (const alias of aliases) {
    if (!ALIAS.test(alias)) return `“${alias}” is not a valid model name (letters, digits and . _ : / @ -).`;
    if (alias === name) return `“${alias}” is already the endpoint's name.`;
    if (seen.has(alias)) return `“${alias}” is listed twice.`;
    seen.add(alias);
    const other = existing.find((e) => e.id !== selfId && (e.name === alias || (e.aliases ?? []).includes(alias)));
    if (other) return `“${alias}” is already used by the endpoint “${other.name}”.`;
  }
  return null;
}

function targets(v: EndpointFormValues): TargetIn[] {
  return v.targets.map((t) => ({ key_id: t.key_id ?? "", model: t.model.trim(), weight: Number(t.weight), role: t.role }));
}

export function createBody(v: EndpointFormValues): EndpointCreate {
  const body: EndpointCreate = { name: v.name.trim(), task: v.task, targets: targets(v) };
  if (v.description.trim()) body.description = v.description.trim();
  if (v.aliases.length) body.aliases = [...v.aliases];
  if (v.timeout_seconds !== "") body.timeout_seconds = Number(v.timeout_seconds);
  if (v.connect_timeout_seconds !== "") body.connect_timeout_seconds = Number(v.connect_timeout_seconds);
  if (v.max_retries !== "") body.max_retries = Number(v.max_retries);
  const limits = limitsBody(v.limits);
  if (limits) body.limits = limits;
  return body;
}

export function updateBody(v: EndpointFormValues, original: EndpointView): EndpointUpdate {
  const body: EndpointUpdate = {};
  if (v.name.trim() !== original.name) body.name = v.name.trim();
  if (v.description.trim() !== (original.description ?? "")) body.description = v.description.trim();
  if (v.task !== asTask(original.task)) body.task = v.task;
  const next = targets(v);
  const before = original.targets.map((t) => ({ key_id: t.key_id ?? "", model: t.model, weight: t.weight, role: asRole(t.role) }));
  if (JSON.stringify(next) !== JSON.stringify(before)) body.targets = next;
  if (JSON.stringify(v.aliases) !== JSON.stringify(original.aliases ?? [])) body.aliases = [...v.aliases];
  if (v.timeout_seconds !== "" && Number(v.timeout_seconds) !== original.timeout_seconds)
    body.timeout_seconds = Number(v.timeout_seconds);
  if (v.connect_timeout_seconds !== "" && Number(v.connect_timeout_seconds) !== original.connect_timeout_seconds)
    body.connect_timeout_seconds = Number(v.connect_timeout_seconds);
  if (v.max_retries !== "" && Number(v.max_retries) !== original.max_retries) body.max_retries = Number(v.max_retries);
  // null removes the endpoint's limits.
  if (limitsChanged(v.limits, original.limits)) body.limits = limitsBody(v.limits);
  return body;
}

const MODEL_HINTS: Record<string, Record<Task, string>> = {
  openai: { chat: "gpt-4o-mini", embeddings: "text-embedding-3-small" },
  anthropic: { chat: "claude-3-5-haiku-latest", embeddings: "" },
  gemini: { chat: "gemini-2.0-flash", embeddings: "text-embedding-004" },
  vertex_ai: { chat: "gemini-2.0-flash", embeddings: "text-embedding-005" },
  bedrock: { chat: "anthropic.claude-3-haiku-20240307-v1:0", embeddings: "amazon.titan-embed-text-v2:0" },
  mistral: { chat: "mistral-small-latest", embeddings: "mistral-embed" },
};

export function modelHint(provider: string | undefined, task: Task): string {
  return (provider && MODEL_HINTS[provider]?.[task]) || "the provider's model name";
}
