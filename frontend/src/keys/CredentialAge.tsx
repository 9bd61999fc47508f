// "Credential set 12 days ago · version 3", and the rotation reminder when it is due.
import { Badge, Group, Text, Tooltip } from "@mantine/core";
import type { KeyView } from "../api/types";
import { formatDateTime, formatRelative, plural } from "../lib/format";

/** Whole days from the server (its clock decides "due"); finer detail under a day. */
export function credentialAge(key: Pick<KeyView, "credential_age_days" | "credential_updated_at">, now = Date.now()): string {
  if (key.credential_age_days >= 1) return `${plural(key.credential_age_days, "day", "days")} ago`;
  return formatRelative(key.credential_updated_at, now);
}

export function CredentialAge({ k }: { k: KeyView }) {
  return (
    <Group gap="xs" wrap="wrap" data-testid="credential-age">
      <Text size="sm" c="dimmed">
        Credential set{" "}
        <Tooltip label={formatDateTime(k.credential_updated_at)} openDelay={300}>
          <time dateTime={k.credential_updated_at}>{credentialAge(k)}</time>
        </Tooltip>{" "}
        · version {k.credential_version}
      </Text>
      {k.rotation_due && (
        <Badge size="sm" color="orange" variant="light">
          Rotation due
        </Badge>
      )}
    </Group>
  );
}
