import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { toApiError } from "./errors";

/** Header the server requires on cookie-authenticated writes (CSRF defence). */
export const CLIENT_HEADER = { "X-Keyhouse-Client": "web" } as const;

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Subscribe to "the session is gone" (any 401 outside sign-in). */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export function notifyUnauthorized(): void {
  unauthorizedListeners.forEach((fn) => fn());
}

const authWatch: Middleware = {
  onResponse({ request, response }) {
    const signingIn = request.method === "POST" && new URL(request.url).pathname === "/api/v1/session";
    if (response.status === 401 && !signingIn) notifyUnauthorized();
    return undefined;
  },
};

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  credentials: "same-origin",
  headers: CLIENT_HEADER,
});
api.use(authWatch);

/**
 * Unwrap an openapi-fetch result: the data, or throw an ApiError built from the server's
 * error envelope. `error` is typed per route; we normalise it here.
 */
export async function unwrap<T>(
  p: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await p;
  if (!response.ok) throw toApiError(response.status, error);
  return data as T;
}
