import type { ReactNode } from "react";
import { ActionIcon, AppShell, Button, Container, Group, Text, ThemeIcon, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { markSignedOut } from "../api/session";
import { IconKey, IconLogout } from "./icons";

export function Shell({ children }: { children: ReactNode }) {
  const qc = useQueryClient();

  async function signOut() {
    try {
      await api.DELETE("/api/v1/session");
    } catch {
      notifications.show({ color: "red", message: "Could not reach the server to sign out." });
      return;
    }
    markSignedOut(qc);
  }

  return (
    <AppShell header={{ height: 56 }} padding={0}>
      <AppShell.Header>
        <Container size="xl" h="100%">
          <Group h="100%" justify="space-between" wrap="nowrap">
            <Group gap={10} wrap="nowrap">
              <ThemeIcon size={30} radius="md" aria-hidden>
                <IconKey size={18} />
              </ThemeIcon>
              <Text component="span" fw={700} size="lg">
                Keyhouse
              </Text>
            </Group>
            <Button variant="subtle" color="gray" leftSection={<IconLogout size={16} />} onClick={signOut} visibleFrom="xs">
              Sign out
            </Button>
            <Tooltip label="Sign out">
              <ActionIcon variant="subtle" color="gray" size="lg" aria-label="Sign out" onClick={signOut} hiddenFrom="xs">
                <IconLogout />
              </ActionIcon>
            </Tooltip>
          </Group>
        </Container>
      </AppShell.Header>
      <AppShell.Main>
        <Container size="xl" py="lg" px={{ base: "sm", sm: "md" }}>
          {children}
        </Container>
      </AppShell.Main>
    </AppShell>
  );
}
