import { useEffect, useRef } from "react";
import { Button, Center, Loader, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { onUnauthorized } from "./api/client";
import { markSignedOut, useSession } from "./api/session";
import { navigate, ROUTES, useRoute } from "./lib/router";
import { SignIn } from "./components/SignIn";
import { Shell } from "./components/Shell";
import { Gateway, GATEWAY_PATHS } from "./components/Gateway";

const KNOWN_PATHS: string[] = GATEWAY_PATHS;

export function App() {
  const qc = useQueryClient();
  const session = useSession();
  const route = useRoute();
  // {"signed_in": false} is the server's way of saying "sign in".
  const signedIn = session.data?.signed_in === true;
  const wasSignedIn = useRef(false);
  useEffect(() => {
    wasSignedIn.current = signedIn;
  }, [signedIn]);

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
        markSignedOut(qc);
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
