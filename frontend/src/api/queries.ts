// TanStack Query hooks over the admin API. Keys and endpoints reference each other
// (a key lists its endpoints, a target names its key), so every write refreshes both.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "./client";
import type { AccessTokenCreate, AccessTokenRotate, AccessTokenUpdate, EndpointCreate, EndpointUpdate, KeyCheck, KeyCreate, KeyUpdate, UsageGroupBy } from "./types";

export const qk = {
  session: ["session"] as const,
  providers: ["providers"] as const,
  keys: ["keys"] as const,
  // Under "keys", so every key write (which refreshes "keys") refreshes the history too.
  keyVersions: (id: string) => ["keys", id, "versions"] as const,
  endpoints: ["endpoints"] as const,
  usage: ["usage"] as const,
  accessTokens: ["access-tokens"] as const,
  limitsUse: ["limits-use"] as const,
};

export interface UsageQuery {
  from: string;
  to: string;
  group_by: UsageGroupBy;
  endpoint?: string;
  key?: string;
  token?: string;
}

/** A usage report: totals and rows grouped by one dimension. Refreshes every 30 s. */
export function useUsageReport(query: UsageQuery, enabled = true) {
  return useQuery({
    queryKey: [...qk.usage, "report", query],
    queryFn: () => unwrap(api.GET("/api/v1/usage", { params: { query } })),
    refetchInterval: 30_000,
    enabled,
  });
}

/** The newest calls (records), newest first. */
export function useUsageRequests(query: { limit: number; from?: string; to?: string }) {
  return useQuery({
    queryKey: [...qk.usage, "requests", query],
    queryFn: () => unwrap(api.GET("/api/v1/usage/requests", { params: { query } })),
    refetchInterval: 30_000,
  });
}

export function useProviders() {
  return useQuery({
    queryKey: qk.providers,
    queryFn: async () => (await unwrap(api.GET("/api/v1/providers"))).providers,
    staleTime: Infinity,
  });
}

export function useKeys() {
  return useQuery({
    queryKey: qk.keys,
    queryFn: async () => (await unwrap(api.GET("/api/v1/keys"))).keys,
  });
}

export function useEndpoints() {
  return useQuery({
    queryKey: qk.endpoints,
    queryFn: async () => (await unwrap(api.GET("/api/v1/endpoints"))).endpoints,
  });
}

/** Use against every limit now; the lists poll it, since calls move it all the time. */
export function useLimitsUse() {
  return useQuery({
    queryKey: qk.limitsUse,
    queryFn: () => unwrap(api.GET("/api/v1/limits/use")),
    refetchInterval: 5_000,
  });
}

function useRefreshAll() {
  const qc = useQueryClient();
  return () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: qk.keys }),
      qc.invalidateQueries({ queryKey: qk.endpoints }),
      // A write may add, change or remove a limit: the use shown must follow at once.
      qc.invalidateQueries({ queryKey: qk.limitsUse }),
    ]);
}

function useRefreshTokens() {
  const qc = useQueryClient();
  return () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: qk.accessTokens }),
      qc.invalidateQueries({ queryKey: qk.limitsUse }),
    ]);
}

export function useCreateKey() {
  const refresh = useRefreshAll();
  return useMutation({
    mutationFn: (body: KeyCreate) => unwrap(api.POST("/api/v1/keys", { body })),
    onSuccess: refresh,
  });
}

export function useUpdateKey() {
  const refresh = useRefreshAll();
  return useMutation({
    mutationFn: (v: { id: string; version: number; body: KeyUpdate }) =>
      unwrap(
        api.PATCH("/api/v1/keys/{key_id}", {
          params: { path: { key_id: v.id } },
          headers: { "If-Match": String(v.version) },
          body: v.body,
        }),
      ),
    onSuccess: refresh,
  });
}

/** The key's kept credentials, newest (the current one) first: masks and dates only. */
export function useKeyVersions(id: string, enabled = true) {
  return useQuery({
    queryKey: qk.keyVersions(id),
    queryFn: async () =>
      (await unwrap(api.GET("/api/v1/keys/{key_id}/versions", { params: { path: { key_id: id } } }))).versions,
    enabled,
  });
}

/** Make an earlier credential current again; it comes back under a new version number. */
export function useRollbackKey() {
  const refresh = useRefreshAll();
  return useMutation({
    mutationFn: (v: { id: string; version: number }) =>
      unwrap(
        api.POST("/api/v1/keys/{key_id}/rollback", {
          params: { path: { key_id: v.id } },
          body: { version: v.version },
        }),
      ),
    onSuccess: refresh,
  });
}

export function useDeleteKey() {
  const refresh = useRefreshAll();
  return useMutation({
    mutationFn: (v: { id: string; force: boolean }) =>
      unwrap(
        api.DELETE("/api/v1/keys/{key_id}", {
          params: { path: { key_id: v.id }, query: v.force ? { force: true } : {} },
        }),
      ),
    onSuccess: refresh,
  });
}

export function useCreateEndpoint() {
  const refresh = useRefreshAll();
  return useMutation({
    mutationFn: (body: EndpointCreate) => unwrap(api.POST("/api/v1/endpoints", { body })),
    onSuccess: refresh,
  });
}

export function useUpdateEndpoint() {
  const refresh = useRefreshAll();
  return useMutation({
    mutationFn: (v: { id: string; version: number; body: EndpointUpdate }) =>
      unwrap(
        api.PATCH("/api/v1/endpoints/{endpoint_id}", {
          params: { path: { endpoint_id: v.id } },
          headers: { "If-Match": String(v.version) },
          body: v.body,
        }),
      ),
    onSuccess: refresh,
  });
}

export function useDeleteEndpoint() {
  const refresh = useRefreshAll();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE("/api/v1/endpoints/{endpoint_id}", { params: { path: { endpoint_id: id } } })),
    onSuccess: refresh,
  });
}

/** Try the key as `body` would change it, before saving: the server merges the changes
 * with the stored credential, calls the provider, and stores nothing. */
export function useTestKeyChanges() {
  return useMutation({
    mutationFn: (v: { id: string; body: KeyCheck }) =>
      unwrap(api.POST("/api/v1/keys/{key_id}/verify", { params: { path: { key_id: v.id } }, body: v.body })),
  });
}

/** Ask the server to try the stored credential against the provider (never reveals it). */
export function useVerifyKey() {
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/keys/{key_id}/verify", { params: { path: { key_id: id } } })),
  });
}

export function useAccessTokens() {
  return useQuery({
    queryKey: qk.accessTokens,
    queryFn: async () => (await unwrap(api.GET("/api/v1/access-tokens"))).access_tokens,
  });
}

export function useCreateAccessToken() {
  const refresh = useRefreshTokens();
  return useMutation({
    mutationFn: (body: AccessTokenCreate) => unwrap(api.POST("/api/v1/access-tokens", { body })),
    onSuccess: refresh,
  });
}

export function useUpdateAccessToken() {
  const refresh = useRefreshTokens();
  return useMutation({
    mutationFn: (v: { id: string; body: AccessTokenUpdate }) =>
      unwrap(api.PATCH("/api/v1/access-tokens/{token_id}", { params: { path: { token_id: v.id } }, body: v.body })),
    onSuccess: refresh,
  });
}

/** A new secret, returned once; the replaced one keeps working for `grace_seconds`. */
export function useRotateAccessToken() {
  const refresh = useRefreshTokens();
  return useMutation({
    mutationFn: (v: { id: string; body: AccessTokenRotate }) =>
      unwrap(
        api.POST("/api/v1/access-tokens/{token_id}/rotate", { params: { path: { token_id: v.id } }, body: v.body }),
      ),
    onSuccess: refresh,
  });
}

export function useRevokeAccessToken() {
  const refresh = useRefreshTokens();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE("/api/v1/access-tokens/{token_id}", { params: { path: { token_id: id } } })),
    onSuccess: refresh,
  });
}
