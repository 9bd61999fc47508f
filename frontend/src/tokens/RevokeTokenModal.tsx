import { useState } from "react";
import { Alert, Button, Group, Modal, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { errorMessage } from "../api/errors";
import { useRevokeAccessToken } from "../api/queries";
import type { AccessTokenView } from "../api/types";

export function RevokeTokenModal({ token, onClose }: { token: AccessTokenView | null; onClose: () => void }) {
  const revoke = useRevokeAccessToken();
  const [shown, setShown] = useState<AccessTokenView | null>(token);
  const [failure, setFailure] = useState<string | null>(null);
  if (token && token !== shown) {
    setShown(token);
    setFailure(null);
  }
  const current = token ?? shown;

  async function confirm() {
    if (!current) return;
    try {
      await revoke.mutateAsync(current.id);
      notifications.show({ color: "green", message: `Revoked access token “${current.name}”.` });
      onClose();
    } catch (err) {
      setFailure(errorMessage(err));
    }
  }

  return (
    <Modal opened={token !== null} onClose={onClose} title="Revoke access token" centered>
      {current && (
        <Stack gap="md">
          {failure && (
            <Alert color="red" role="alert">
              {failure}
            </Alert>
          )}
          <Text size="sm">
            Revoke <b>{current.name}</b> (<span className="kh-mono">{current.prefix}…</span>)? Applications using it get
            401 from their next request. This cannot be undone.
          </Text>
          <Group justify="flex-end" gap="sm">
            <Button variant="default" onClick={onClose} disabled={revoke.isPending} data-autofocus>
              Cancel
            </Button>
            <Button color="red" onClick={confirm} loading={revoke.isPending}>
              Revoke
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
