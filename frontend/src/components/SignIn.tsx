import { useState, type FormEvent } from "react";
import { Alert, Box, Button, Center, Code, Group, Paper, PasswordInput, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { toApiError } from "../api/errors";
import { markSignedIn } from "../api/session";
import { IconKey } from "./icons";

export function SignIn() {
  const qc = useQueryClient();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!token.trim()) {
      setError("Enter the admin token.");
      return;
    }
    setBusy(true);
    setError(null);
    setFailure(null);
    try {
      const { error: body, response } = await api.POST("/api/v1/session", {
        body: { token: token.trim() },
      });
      if (response.status === 401) {
        setError("That token is not valid.");
      } else if (!response.ok) {
        setFailure(toApiError(response.status, body).message);
      } else {
        // The token lives only in this component's state; drop it now.
        setToken("");
        markSignedIn(qc);
      }
    } catch (err) {
      setFailure(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Center mih="100vh" p="md">
      <Box w="100%" maw={420}>
        <Group gap="xs" justify="center" mb="lg">
          <ThemeIcon size={36} radius="md" aria-hidden>
            <IconKey size={22} />
          </ThemeIcon>
          <Title order={1} size="h2">
            Keyhouse
          </Title>
        </Group>
        <Paper withBorder shadow="sm" p="xl" radius="md">
          <form onSubmit={submit} noValidate aria-labelledby="signin-title">
            <Stack gap="md">
              <div>
                <Title order={2} size="h4" id="signin-title">
                  Sign in
                </Title>
                <Text size="sm" c="dimmed" mt={4}>
                  Use the admin token of this Keyhouse server.
                </Text>
              </div>
              {failure && (
                <Alert color="red" role="alert">
                  {failure}
                </Alert>
              )}
              <PasswordInput
                label="Admin token"
                autoFocus
                autoComplete="off"
                spellCheck={false}
                visibilityToggleFocusable
                value={token}
                onChange={(e) => {
                  setToken(e.currentTarget.value);
                  setError(null);
                }}
                error={error}
                description={
                  <>
                    Printed by <Code>keyhouse serve</Code> on first start, or set with{" "}
                    <Code>KEYHOUSE_ADMIN_TOKEN</Code>.
                  </>
                }
              />
              <Button type="submit" loading={busy} fullWidth>
                Sign in
              </Button>
            </Stack>
          </form>
        </Paper>
      </Box>
    </Center>
  );
}
