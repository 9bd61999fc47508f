import { describe, expect, it } from "vitest";
import type { AccessTokenView } from "../api/types";
import { createBody, createValues, formPath, hasLastUsed, pythonSample, scopeLabel, validateToken } from "./tokenForm";

const token = (over: Partial<AccessTokenView> = {}): AccessTokenView => ({
  id: "t1",
  name: "app",
  prefix: "kh_abcde",
  endpoints: null,
  created_at: "2026-01-01T00:00:00Z",
  ...over,
});

describe("the token form", () => {
  it("needs a valid name, and endpoints when the scope is limited", () => {
    expect(validateToken(createValues())).toEqual({ name: "Name is required." });
    expect(validateToken({ name: "bad name", scope: "all", endpoints: [] }).name).toMatch(/^Use letters/);
    expect(validateToken({ name: "app", scope: "some", endpoints: [] })).toHaveProperty("endpoints");
    expect(validateToken({ name: "app", scope: "some", endpoints: ["chat"] })).toEqual({});
  });

  it("sends no endpoints for 'all', the list for 'some'", () => {
    expect(createBody({ name: " app ", scope: "all", endpoints: ["ignored"] })).toEqual({ name: "app" });
    expect(createBody({ name: "app", scope: "some", endpoints: ["chat"] })).toEqual({ name: "app", endpoints: ["chat"] });
  });

  it("puts the server's endpoints.N errors on the one endpoints field", () => {
    expect(formPath("endpoints.3")).toBe("endpoints");
    expect(formPath("name")).toBe("name");
  });
});

describe("the token list", () => {
  it("labels the scope", () => {
    expect(scopeLabel(token())).toBe("All endpoints");
    expect(scopeLabel(token({ endpoints: [] }))).toBe("No endpoints");
    expect(scopeLabel(token({ endpoints: ["a", "b"] }))).toBe("a, b");
  });
  it("shows Last used only once the API reports it", () => {
    expect(hasLastUsed([token()])).toBe(false);
    expect(hasLastUsed([token({ last_used_at: null })])).toBe(true);
  });
  it("writes a sample that uses the token and the endpoint", () => {
    const code = pythonSample("https://kh.example", "kh_x", "chat");
    expect(code).toContain('base_url="https://kh.example/v1", api_key="kh_x"');
    expect(code).toContain('model="chat"');
  });
});
