import { describe, expect, it } from "vitest";
import { formatDateTime, formatRelative, plural } from "./format";
import { href, parseHash } from "./router";
import { SseParser } from "./sse";

describe("router", () => {
  it("parses deep links and builds them back", () => {
    expect(parseHash("")).toEqual({ path: "/", params: new URLSearchParams() });
    const r = parseHash("#/gateway/access-tokens/?x=1&endpoint=e%201");
    expect(r.path).toBe("/gateway/access-tokens");
    expect(r.params.get("endpoint")).toBe("e 1");
    expect(href("/gateway", { endpoint: "e 1" })).toBe("#/gateway?endpoint=e+1");
    expect(parseHash(href("/gateway", { endpoint: "e 1" })).params.get("endpoint")).toBe("e 1");
  });
});

describe("format", () => {
  const now = Date.parse("2026-03-03T12:00:00Z");
  it.each([
    ["2026-03-03T11:59:30Z", "just now"],
    ["2026-03-03T11:55:00Z", "5 minutes ago"],
    ["2026-03-02T12:00:00Z", "yesterday"],
    ["2026-03-03T15:00:00Z", "in 3 hours"],
    // At each unit's edge the rounded count names the larger unit, never "60 minutes".
    ["2026-03-03T12:59:59Z", "in 1 hour"],
    ["2026-03-03T12:59:30Z", "in 1 hour"],
    ["2026-03-03T12:59:00Z", "in 59 minutes"],
    ["2026-03-02T12:20:00Z", "yesterday"],
    ["2026-03-10T02:00:00Z", "next week"],
    ["2026-03-31T12:00:00Z", "in 4 weeks"],
  ])("%s is %s", (iso, text) => {
    expect(formatRelative(iso, now)).toBe(text);
  });
  it("shows a dash for nothing and the raw text for a non-date", () => {
    expect(formatRelative(null)).toBe("—");
    expect(formatDateTime(undefined)).toBe("—");
    expect(formatDateTime("soon")).toBe("soon");
    expect(plural(1, "key", "keys")).toBe("1 key");
    expect(plural(0, "key", "keys")).toBe("0 keys");
  });
});

describe("SseParser", () => {
  it("frames events across chunks and line-end styles", () => {
    const p = new SseParser();
    expect(p.push("data: a\r")).toEqual([]);
    expect(p.push("\n\r\n: comment\ndata: b\ndata:c\n")).toEqual(["a"]);
    // A "\r" at the end of a chunk may be half of "\r\n": it ends its line only later.
    expect(p.push("\nevent: x\ndata: [DONE]\r\r")).toEqual(["b\nc"]);
    expect(p.push("data: tail")).toEqual(["[DONE]"]);
    expect(p.end()).toEqual(["tail"]);
  });
});
