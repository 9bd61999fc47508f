import { useState } from "react";
import { Alert, Button, Group, Modal, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { errorMessage } from "../api/errors";
import { useDeleteEndpoint } from "../api/queries";
import type { EndpointView } from "../api/types";

export function DeleteEndpointModal({ endpoint, onClose }: { endpoint: EndpointView | null; onClose: () => void }) {
  const del = useDeleteEndpoint();
  const [shown, setShown] = useState<EndpointView | null>(endpoint);
  const [failure, setFailure] = useState<string | null>(null);
  if (endpoint && endpoint !== shown) {
    setShown(endpoint);
    setFailure(null);
  }
  const current = endpoint ?? shown;

  async function remove() {
    if (!current) return;
    try {
      await del.mutateAsync(current.id);
      notifications.show({ color: "green", message: `Deleted endpoint “${current.name}”.` });
      onClose();
    } catch (err) {
      setFailure(errorMessage(err));
    }
  }

  return (
    <Modal opened={endpoint !== null} onClose={onClose} title="Delete endpoint" centered>
      {current && (
        <Stack gap="md">
          {failure && (
            <Alert color="red" role="alert">
              {failure}
            </Alert>
          )}
          <Text size="sm">
            Delete the endpoint <b>{current.name}</b>? Applications calling model “{current.name}” will get 404. Its API
            keys are kept.
          </Text>
          <Group justify="flex-end" gap="sm">
            <Button variant="default" onClick={onClose} disabled={del.isPending} data-autofocus>
              Cancel
            </Button>
            <Button color="red" onClick={remove} loading={del.isPending}>
              Delete
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
