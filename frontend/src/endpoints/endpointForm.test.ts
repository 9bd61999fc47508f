import { describe, expect, it } from "vitest";
import type { EndpointView } from "../api/types";
import { createBody, createValues, editValues, emptyTarget, modelHint, updateBody, validateEndpoint } from "./endpointForm";

function endpoint(over: Partial<EndpointView> = {}): EndpointView {
  return {
    id: "e1",
    name: "chat",
    description: "",
    task: "chat",
    targets: [{ key_id: "k1", key_name: "prod", provider: "openai", model: "gpt-4o-mini", weight: 1, role: "primary" }],
    timeout_seconds: 60,
    connect_timeout_seconds: 10,
    max_retries: 2,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    version: 1,
    ...over,
  } as EndpointView;
}

describe("validateEndpoint", () => {
  it("flags each missing piece on its own field", () => {
    const v = { ...createValues(null), targets: [emptyTarget()] };
    expect(validateEndpoint(v, [])).toEqual({
      name: "Name is required.",
      "targets.0.key_id": "Choose an API key.",
      "targets.0.model": "Model is required.",
    });
  });

  it("needs a primary target and refuses another endpoint's name", () => {
    const v = { ...createValues("k1"), name: "chat", targets: [{ ...emptyTarget("fallback"), key_id: "k1", model: "m" }] };
    const errors = validateEndpoint(v, [endpoint()]);
    expect(errors.name).toBe('An endpoint named "chat" already exists.');
    expect(errors.targets).toBe("At least one target must be primary.");
    expect(validateEndpoint(editValues(endpoint()), [endpoint()], "e1")).toEqual({});
  });

  it.each([
    ["weight", 0, "targets.0.weight"],
    ["weight", 101, "targets.0.weight"],
    ["weight", 1.5, "targets.0.weight"],
  ])("refuses a %s of %s", (_what, weight, path) => {
    const v = { ...createValues("k1"), name: "x", targets: [{ ...emptyTarget(), key_id: "k1", model: "m", weight }] };
    expect(validateEndpoint(v, [])).toHaveProperty([path]);
  });

  it.each([
    ["timeout_seconds", 0],
    ["timeout_seconds", 601],
    ["connect_timeout_seconds", 61],
    ["max_retries", 6],
    ["max_retries", 1.5],
  ])("refuses %s = %s", (name, value) => {
    const v = { ...createValues("k1"), name: "x", targets: [{ ...emptyTarget(), key_id: "k1", model: "m" }], [name]: value };
    expect(Object.keys(validateEndpoint(v, []))).toEqual([name]);
  });
});

describe("request bodies", () => {
  it("create leaves the server's defaults alone", () => {
    const v = { ...createValues("k1"), name: " chat ", targets: [{ ...emptyTarget(), key_id: "k1", model: " gpt-4o " }] };
    expect(createBody(v)).toEqual({ name: "chat", task: "chat", targets: [{ key_id: "k1", model: "gpt-4o", weight: 1, role: "primary" }] });
  });

  it("update sends only what changed", () => {
    const e = endpoint();
    expect(updateBody(editValues(e), e)).toEqual({});
    const v = { ...editValues(e), max_retries: 0, targets: [...editValues(e).targets, { ...emptyTarget("fallback"), key_id: "k2", model: "m" }] };
    expect(updateBody(v, e)).toEqual({
      max_retries: 0,
      targets: [
        { key_id: "k1", model: "gpt-4o-mini", weight: 1, role: "primary" },
        { key_id: "k2", model: "m", weight: 1, role: "fallback" },
      ],
    });
  });
});

describe("the endpoint's limits", () => {
  it("are sent when set, checked, and removed with null", () => {
    const base = { ...createValues("k1"), name: "x", targets: [{ ...emptyTarget(), key_id: "k1", model: "m" }] };
    const limits = { ...base.limits, tokens_per_minute: 2000, budget: { usd: 5, period: "day" as const, action: "alert" as const } };
    expect(createBody({ ...base, limits }).limits).toEqual({ tokens_per_minute: 2000, budget: { usd: 5, period: "day", action: "alert" } });
    expect(validateEndpoint({ ...base, limits: { ...limits, max_concurrent: 0 } }, [])).toHaveProperty(["limits.max_concurrent"]);
    const e = { ...endpoint(), limits: { tokens_per_minute: 2000 } };
    expect(editValues(e).limits.tokens_per_minute).toBe(2000);
    expect(updateBody(editValues(e), e)).toEqual({});
    expect(updateBody({ ...editValues(e), limits: createValues(null).limits }, e)).toEqual({ limits: null });
  });
});

describe("modelHint", () => {
  it("knows the usual models and says so when it does not", () => {
    expect(modelHint("openai", "embeddings")).toBe("text-embedding-3-small");
    expect(modelHint("anthropic", "embeddings")).toBe("the provider's model name");
    expect(modelHint(undefined, "chat")).toBe("the provider's model name");
  });
});
