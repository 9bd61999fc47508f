import { useEffect, useRef } from "react";
import { Button, Center, Loader, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, onUnauthorized } from "./api/client";
import { toApiError } from "./api/errors";
import { qk } from "./api/queries";
import { navigate, ROUTES, useRoute } from "./lib/router";
import { SignIn } from "./components/SignIn";
import { Shell } from "./components/Shell";
import { Gateway } from "./components/Gateway";

const KNOWN_PATHS: string[] = [ROUTES.endpoints, ROUTES.apiKeys];

/** null = signed out; the session itself lives in the server's httpOnly cookie. */
function useSession() {
  return useQuery({
    queryKey: qk.session,
    queryFn: async () => {
      const { data, error, response } = await api.GET("/api/v1/session");
      if (response.status === 401) return null;
      if (!response.ok) throw toApiError(response.status, error);
      return data ?? { signed_in: true, expires_at: "" };
    },
    retry: false,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
}

export function App() {
  const qc = useQueryClient();
  const session = useSession();
  const route = useRoute();
  // A server may answer the probe with 401 or with {"signed_in": false}; both mean "sign in".
  const signedIn = session.data?.signed_in === true;
  const wasSignedIn = useRef(false);
  wasSignedIn.current = signedIn;

  // Any 401 from the admin API means the session is gone: back to sign-in, drop cached data.
  useEffect(
    () =>
      onUnauthorized(() => {
        if (wasSignedIn.current) {
          notifications.show({
            id: "session-ended",
            color: "yellow",
            title: "Signed out",
            message: "Your session ended. Sign in again to continue.",
          });
        }
        qc.setQueryData(qk.session, null);
        setTimeout(() => qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "session" }), 0);
      }),
    [qc],
  );

  useEffect(() => {
    if (!KNOWN_PATHS.includes(route.path)) navigate(ROUTES.endpoints, undefined, true);
  }, [route.path]);

  if (session.isPending) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (session.isError) {
    return (
      <Center h="100vh" p="md">
        <Stack align="center" gap="sm">
          <Text fw={600}>Keyhouse is not reachable.</Text>
          <Text c="dimmed" size="sm">
            {session.error.message}
          </Text>
          <Button onClick={() => session.refetch()}>Try again</Button>
        </Stack>
      </Center>
    );
  }
  if (!signedIn) return <SignIn />;
  return (
    <Shell>
      <Gateway route={route} />
    </Shell>
  );
}
