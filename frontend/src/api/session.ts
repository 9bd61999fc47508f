// The web UI session as the server reports it. The session itself is the server's
// httpOnly cookie; the UI only ever knows "signed in until …" or "signed out".
import { useQuery, type QueryClient } from "@tanstack/react-query";
import { api } from "./client";
import { toApiError } from "./errors";
import { qk } from "./queries";
import type { SessionView } from "./types";

export const SIGNED_OUT: SessionView = { signed_in: false, expires_at: null };

/** The probe answers 200 {"signed_in": false} when there is no session; that is not an error. */
export function useSession() {
  return useQuery({
    queryKey: qk.session,
    queryFn: async (): Promise<SessionView> => {
      const { data, error, response } = await api.GET("/api/v1/session");
      // An older server answered 401 here; it means the same thing.
      if (response.status === 401) return SIGNED_OUT;
      if (!response.ok || !data) throw toApiError(response.status, error);
      return data;
    },
    retry: false,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
}

/** Forget the session and every cached admin answer (they belonged to it). */
export function markSignedOut(qc: QueryClient): void {
  qc.setQueryData(qk.session, SIGNED_OUT);
  // After the render that shows sign-in, so no mounted query refetches into a 401.
  setTimeout(() => qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "session" }), 0);
}

/** Signed in: show the app now, then ask the server for the real expiry. */
export function markSignedIn(qc: QueryClient): void {
  qc.setQueryData(qk.session, { signed_in: true, expires_at: null } satisfies SessionView);
  void qc.invalidateQueries({ queryKey: qk.session });
}
