// A new token's secret, shown once (at creation and at rotation) with a copy button.
import { Alert, Button, Code, CopyButton, Group, Stack, Text } from "@mantine/core";
import type { AccessTokenCreated } from "../api/types";
import { formatDateTime } from "../lib/format";
import { IconAlert, IconCheck } from "../components/icons";
import { pythonSample } from "./tokenForm";

export function ShowSecret({ created, onDone }: { created: AccessTokenCreated; onDone: () => void }) {
  const endpoint = created.endpoints?.[0] ?? "<endpoint name>";
  return (
    <Stack gap="md">
      <Alert color="yellow" icon={<IconAlert />} title="Copy it now">
        This is the only time the token is shown; Keyhouse keeps only its hash. If you lose it, rotate it or revoke it
        and create another.
      </Alert>
      {created.previous_valid_until && (
        <Text size="sm" data-testid="grace-note">
          The replaced secret keeps working until <b>{formatDateTime(created.previous_valid_until)}</b>: update your
          applications before then.
        </Text>
      )}
      <Group gap="xs" wrap="nowrap" align="center">
        <Code data-testid="new-token" style={{ flex: 1, wordBreak: "break-all", fontSize: "var(--mantine-font-size-sm)" }}>
          {created.token}
        </Code>
        <CopyButton value={created.token}>
          {({ copied, copy }) => (
            <Button
              variant={copied ? "light" : "filled"}
              color={copied ? "teal" : undefined}
              leftSection={copied ? <IconCheck size={16} /> : undefined}
              onClick={copy}
            >
              {copied ? "Copied" : "Copy token"}
            </Button>
          )}
        </CopyButton>
      </Group>
      <div>
        <Text size="sm" fw={500} mb={4}>
          Use it from your code
        </Text>
        <Code block style={{ overflowX: "auto" }}>
          {pythonSample(window.location.origin, created.token, endpoint)}
        </Code>
      </div>
      <Group justify="flex-end">
        <Button onClick={onDone}>Done</Button>
      </Group>
    </Stack>
  );
}
