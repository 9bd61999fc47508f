// Hash routing: the server only serves "/", so every view lives after "#". Reloads and
// deep links (#/gateway/api-keys, #/gateway?endpoint=<id>) land on the same view.
import { useSyncExternalStore } from "react";

export interface Route {
  path: string;
  params: URLSearchParams;
}

function subscribe(fn: () => void): () => void {
  window.addEventListener("hashchange", fn);
  return () => window.removeEventListener("hashchange", fn);
}

const getHash = () => window.location.hash;

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = (q === -1 ? raw : raw.slice(0, q)).replace(/\/+$/, "") || "/";
  return { path, params: new URLSearchParams(q === -1 ? "" : raw.slice(q + 1)) };
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, getHash);
  return parseHash(hash);
}

export function href(path: string, params?: Record<string, string>): string {
  const qs = params ? new URLSearchParams(params).toString() : "";
  return `#${path}${qs ? `?${qs}` : ""}`;
}

export function navigate(path: string, params?: Record<string, string>, replace = false): void {
  const target = href(path, params);
  if (replace) {
    window.history.replaceState(null, "", target);
    // replaceState does not fire hashchange; tell subscribers ourselves.
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    window.location.hash = target;
  }
}

export const ROUTES = {
  endpoints: "/gateway",
  apiKeys: "/gateway/api-keys",
  usage: "/gateway/usage",
  accessTokens: "/gateway/access-tokens",
} as const;
