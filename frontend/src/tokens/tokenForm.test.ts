import { describe, expect, it } from "vitest";
import type { AccessTokenView } from "../api/types";
import { limitsValues } from "../limits/limitsForm";
import {
  createBody,
  createValues,
  editValues,
  endOfDay,
  EXPIRY_OPTIONS,
  expiresAt,
  formPath,
  isExpired,
  localDate,
  pythonSample,
  scopeLabel,
  updateBody,
  validateToken,
  type TokenFormValues,
} from "./tokenForm";

const token = (over: Partial<AccessTokenView> = {}): AccessTokenView => ({
  id: "t1",
  name: "app",
  prefix: "kh_abcde",
  endpoints: null,
  created_at: "2026-01-01T00:00:00Z",
  ...over,
});

const values = (over: Partial<TokenFormValues> = {}): TokenFormValues => ({ ...createValues(), name: "app", ...over });
const NOW = new Date(2026, 11, 1, 12, 0, 0);

describe("the token form", () => {
  it("needs a valid name, and endpoints when the scope is limited", () => {
    expect(validateToken(createValues())).toEqual({ name: "Name is required." });
    expect(validateToken(values({ name: "bad name" })).name).toMatch(/^Use letters/);
    expect(validateToken(values({ scope: "some" }))).toHaveProperty("endpoints");
    expect(validateToken(values({ scope: "some", endpoints: ["chat"] }))).toEqual({});
  });

  it("sends no endpoints for 'all', the list for 'some'", () => {
    expect(createBody(values({ name: " app ", endpoints: ["ignored"] }))).toEqual({ name: "app" });
    expect(createBody(values({ scope: "some", endpoints: ["chat"] }))).toEqual({ name: "app", endpoints: ["chat"] });
  });

  it("checks and sends the limits", () => {
    const limits = { ...limitsValues(), requests_per_minute: 5, budget: { usd: 1, period: "month" as const, action: "reject" as const } };
    expect(createBody(values({ limits }))).toEqual({
      name: "app",
      limits: { requests_per_minute: 5, budget: { usd: 1, period: "month", action: "reject" } },
    });
    expect(validateToken(values({ limits: { ...limits, requests_per_minute: 0 } }))).toHaveProperty([
      "limits.requests_per_minute",
    ]);
  });

  it("sets every expiry choice", () => {
    const day = 24 * 3600_000;
    for (const { value } of EXPIRY_OPTIONS) {
      const at = expiresAt({ expiry: value, expiry_date: "2027-03-04" }, NOW);
      if (value === "never") expect(at).toBeNull();
      else if (value === "date") expect(at).toBe(new Date(2027, 2, 5).toISOString());
      else expect(new Date(at as string).getTime() - NOW.getTime()).toBe(Number(value) * day);
    }
    expect(createBody(values({ expiry: "30" }), NOW).expires_at).toBe(new Date(NOW.getTime() + 30 * day).toISOString());
    expect(createBody(values({ expiry: "never" }), NOW)).not.toHaveProperty("expires_at");
  });

  it("wants a day that has not ended for a date expiry", () => {
    expect(validateToken(values({ expiry: "date", expiry_date: "" }), NOW)).toHaveProperty("expiry_date");
    expect(validateToken(values({ expiry: "date", expiry_date: "2026-11-30" }), NOW)).toHaveProperty("expiry_date");
    expect(validateToken(values({ expiry: "date", expiry_date: localDate(NOW) }), NOW)).toEqual({});
    expect(endOfDay("2027-02-30")).toBeNull();
    expect(endOfDay("2027-12-31")).toEqual(new Date(2028, 0, 1));
    expect(endOfDay("soon")).toBeNull();
  });

  it("edits only what changed, and null clears", () => {
    const stored = token({
      endpoints: ["chat"],
      expires_at: new Date(2027, 0, 2).toISOString(), // end of 1 January, local
      limits: { requests_per_minute: 5, tokens_per_minute: null, max_concurrent: null, budget: null },
    });
    const v = editValues(stored);
    expect(v.expiry).toBe("date");
    expect(v.expiry_date).toBe("2027-01-01");
    expect(updateBody(v, stored, NOW)).toEqual({});
    expect(updateBody({ ...v, scope: "all" }, stored, NOW)).toEqual({ endpoints: null });
    expect(updateBody({ ...v, expiry: "never" }, stored, NOW)).toEqual({ expires_at: null });
    expect(updateBody({ ...v, limits: limitsValues() }, stored, NOW)).toEqual({ limits: null });
    expect(updateBody({ ...v, limits: { ...v.limits, requests_per_minute: 6 } }, stored, NOW)).toEqual({
      limits: { requests_per_minute: 6 },
    });
    // An expiry set to the second ("in 30 days") is kept when the date is left alone.
    const exact = token({ expires_at: "2027-01-15T09:41:07Z" });
    expect(updateBody(editValues(exact), exact, NOW)).toEqual({});
  });

  it("puts the server's errors on the field that caused them", () => {
    expect(formPath("endpoints.3")).toBe("endpoints");
    expect(formPath("name")).toBe("name");
    expect(formPath("expires_at", { expiry: "date" })).toBe("expiry_date");
    expect(formPath("expires_at", { expiry: "7" })).toBe("expiry");
    expect(formPath("limits.budget.usd")).toBe("limits.budget.usd");
    expect(formPath("limits")).toBeNull();
  });
});

describe("the token list", () => {
  it("labels the scope", () => {
    expect(scopeLabel(token())).toBe("All endpoints");
    expect(scopeLabel(token({ endpoints: [] }))).toBe("No endpoints");
    expect(scopeLabel(token({ endpoints: ["a", "b"] }))).toBe("a, b");
  });
  it("knows an expired token", () => {
    expect(isExpired(token())).toBe(false);
    expect(isExpired(token({ expires_at: "2020-01-01T00:00:00Z" }))).toBe(true);
    expect(isExpired(token({ expires_at: "2999-01-01T00:00:00Z" }))).toBe(false);
  });
  it("writes a sample that uses the token and the endpoint", () => {
    const code = pythonSample("https://kh.example", "kh_x", "chat");
    expect(code).toContain('base_url="https://kh.example/v1", api_key="kh_x"');
    expect(code).toContain('model="chat"');
  });
});
