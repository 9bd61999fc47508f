import { describe, expect, it } from "vitest";
import type { AuthMethodView, KeyView, ProviderView } from "../api/types";
import {
  blocksSave,
  createBody,
  createValues,
  editValues,
  fieldsFor,
  findMethod,
  nameError,
  reminderDays,
  restoredMessage,
  savedMessage,
  testBody,
  updateBody,
  urlChanged,
  validateKey,
} from "./keyForm";

const field = (name: string, over: Partial<AuthMethodView["secret_fields"][number]> = {}) => ({
  name,
  label: name.replace(/_/g, " "),
  required: false,
  secret: false,
  kind: "text",
  placeholder: "",
  help: "",
  default: null,
  ...over,
});

const apiKey: AuthMethodView = {
  id: "api_key",
  label: "API key",
  secret_fields: [field("api_key", { label: "API key", required: true, secret: true, kind: "password" })],
  config_fields: [field("base_url", { label: "Base URL", kind: "url" }), field("organization")],
};
const vertex: AuthMethodView = {
  id: "service_account",
  label: "Service account",
  secret_fields: [field("service_account_json", { label: "Service account JSON", required: true, secret: true, kind: "json" })],
  config_fields: [field("project_id", { label: "Project ID", required: true }), field("location", { default: "us-central1" })],
};
const providers: ProviderView[] = [
  { id: "openai", display_name: "OpenAI", chat: true, embeddings: true, default_base_url: null, auth_methods: [apiKey] },
  { id: "vertex_ai", display_name: "Vertex AI", chat: true, embeddings: true, default_base_url: null, auth_methods: [vertex] },
] as ProviderView[];

function key(over: Partial<KeyView> = {}): KeyView {
  return {
    id: "k1",
    name: "prod",
    description: "",
    provider: "openai",
    provider_display_name: "OpenAI",
    auth_method: "api_key",
    masked: { api_key: "sk-…abcd" },
    config: { base_url: "https://api.example.com/v1" },
    endpoints: [],
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    credential_updated_at: "2026-01-01T00:00:00Z",
    rotate_after_days: null,
    credential_version: 1,
    credential_age_days: 0,
    rotation_due: false,
    version: 1,
    ...over,
  } as KeyView;
}

describe("findMethod and fieldsFor", () => {
  it("falls back to the provider's first method and carries same-named values over", () => {
    expect(findMethod(providers, "openai", "nope")?.id).toBe("api_key");
    expect(findMethod(providers, "nobody", "api_key")).toBeUndefined();
    const f = fieldsFor(vertex, { credentials: { service_account_json: "{}" }, config: { location: "" } });
    expect(f).toEqual({ credentials: { service_account_json: "{}" }, config: { project_id: "", location: "us-central1" } });
  });
});

describe("nameError", () => {
  it.each([
    ["", "Name is required."],
    ["has space", "Use letters"],
    ["-leading", "Use letters"],
    ["a".repeat(65), "Use letters"],
  ])("refuses %j", (name, start) => {
    expect(nameError(name, [])).toMatch(new RegExp(`^${start}`));
  });
  it("refuses a name another key has, not the key's own", () => {
    expect(nameError("prod", [key()])).toBe('An API key named "prod" already exists.');
    expect(nameError("prod", [key()], "k1")).toBeNull();
    expect(nameError("prod.v2_x-1", [key()])).toBeNull();
  });
});

describe("validateKey", () => {
  const values = (over = {}) => ({ ...createValues(), name: "new", provider: "openai", auth_method: "api_key", credentials: { api_key: "" }, config: { base_url: "" }, ...over });

  it("requires every required secret and config field on create", () => {
    expect(validateKey(values(), apiKey, [])).toEqual({ "credentials.api_key": "API key is required." });
    const v = { ...values(), provider: "vertex_ai", auth_method: "service_account", credentials: { service_account_json: "" }, config: { project_id: " " } };
    expect(Object.keys(validateKey(v, vertex, []))).toEqual(["credentials.service_account_json", "config.project_id"]);
  });

  it("leaves URL rules to the server", () => {
    expect(validateKey(values({ credentials: { api_key: "sk-x" }, config: { base_url: "notaurl" } }), apiKey, [])).toEqual({});
  });

  it.each([
    ["not json", "This is not valid JSON."],
    ["[1]", "Paste the whole JSON object."],
    ['{"type": "user"}', "not a service-account key file"],
    ['{"type": "service_account", "client_email": "a@b"}', 'lacks "private_key"'],
  ])("checks a JSON secret: %s", (text, message) => {
    const v = { ...values(), credentials: { service_account_json: text }, config: { project_id: "p" } };
    expect(validateKey(v, vertex, [])["credentials.service_account_json"]).toContain(message);
  });

  it.each([[0], [3651], [1.5], ["x"]])("refuses the reminder %j", (days) => {
    expect(validateKey(values({ credentials: { api_key: "sk" }, rotate_after_days: days }), apiKey, [])).toHaveProperty("rotate_after_days");
  });

  it("on edit, asks for the secret again only when a URL changed", () => {
    const original = key();
    const edit = editValues(original, apiKey);
    expect(validateKey(edit, apiKey, [original], original)).toEqual({});
    const moved = { ...edit, config: { ...edit.config, base_url: "https://elsewhere.example/v1" } };
    expect(urlChanged(apiKey, moved, original)).toBe(true);
    expect(validateKey(moved, apiKey, [original], original)["credentials.api_key"]).toMatch(/^Re-enter/);
  });
});

describe("request bodies", () => {
  it("create sends trimmed values and only non-empty fields", () => {
    const v = { ...createValues(), name: " new ", description: " ", provider: "openai", auth_method: "api_key", credentials: { api_key: "sk-x" }, config: { base_url: " https://a.example/v1 ", organization: "" }, rotate_after_days: 30 };
    expect(createBody(v, apiKey)).toEqual({
      name: "new",
      provider: "openai",
      auth_method: "api_key",
      credentials: { api_key: "sk-x" },
      config: { base_url: "https://a.example/v1" },
      rotate_after_days: 30,
    });
  });

  it("update sends only what changed; an empty secret means keep", () => {
    const original = key({ rotate_after_days: 90 });
    const edit = editValues(original, apiKey);
    expect(updateBody(edit, apiKey, original)).toEqual({});
    expect(updateBody({ ...edit, rotate_after_days: "" }, apiKey, original)).toEqual({ rotate_after_days: 0 });
    const rotated = { ...edit, credentials: { api_key: "sk-new" } };
    expect(updateBody(rotated, apiKey, original)).toEqual({ credentials: { api_key: "sk-new" } });
  });

  it("limits: sent when set, unchanged ones left out, cleared with null", () => {
    const v = {
      ...createValues(),
      name: "new",
      provider: "openai",
      auth_method: "api_key",
      credentials: { api_key: "sk" },
      limits: { ...createValues().limits, requests_per_minute: 60 },
    };
    expect(createBody(v, apiKey).limits).toEqual({ requests_per_minute: 60 });
    expect(validateKey({ ...v, limits: { ...v.limits, requests_per_minute: 1.5 } }, apiKey, [])).toHaveProperty([
      "limits.requests_per_minute",
    ]);
    const original = key({ limits: { requests_per_minute: 60, budget: { usd: 10, period: "week", action: "reject" } } });
    const edit = editValues(original, apiKey);
    expect(updateBody(edit, apiKey, original)).toEqual({});
    expect(updateBody({ ...edit, limits: createValues().limits }, apiKey, original)).toEqual({ limits: null });
    expect(testBody(updateBody({ ...edit, limits: createValues().limits }, apiKey, original))).toBeNull();
  });
});

describe("Save & test", () => {
  it("tests only a changed credential, with the settings changed alongside it", () => {
    expect(testBody({ name: "x" })).toBeNull();
    expect(testBody({ credentials: { api_key: "sk" } })).toEqual({ credentials: { api_key: "sk" } });
    expect(testBody({ credentials: { api_key: "sk" }, config: { base_url: "https://b/v1" }, name: "y" })).toEqual({
      credentials: { api_key: "sk" },
      config: { base_url: "https://b/v1" },
    });
  });
  it.each([
    ["ok", false],
    ["unsupported", false],
    ["rejected", true],
    ["unreachable", true],
    ["error", true],
  ] as const)("a %s result blocks the save: %s", (status, blocks) => {
    expect(blocksSave({ status })).toBe(blocks);
  });
});

describe("messages", () => {
  it("counts the endpoints that switch", () => {
    const one = key({ endpoints: [{ id: "e", name: "chat" }] });
    expect(savedMessage(one, true)).toBe("Saved. 1 endpoint now uses the new credential.");
    expect(savedMessage(key(), true)).toBe("Saved. No endpoints use this key yet.");
    expect(savedMessage(one, false)).toBe("Saved.");
    expect(restoredMessage(2, key({ credential_version: 4 }))).toBe("Version 2 is current again (as version 4). No endpoints use this key yet.");
  });
  it("reads the reminder box", () => {
    expect(reminderDays("")).toBeNull();
    expect(reminderDays(" ")).toBeNull();
    expect(reminderDays("30")).toBe(30);
    expect(reminderDays(7)).toBe(7);
  });
});
