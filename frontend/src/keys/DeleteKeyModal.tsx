import { useState } from "react";
import { Alert, Anchor, Button, Code, Group, List, Modal, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { ApiError, errorMessage } from "../api/errors";
import { useDeleteKey } from "../api/queries";
import type { KeyView } from "../api/types";
import { href, ROUTES } from "../lib/router";
import { IconAlert } from "../components/icons";

interface Ref {
  id: string;
  name: string;
}

export function DeleteKeyModal({ k, onClose }: { k: KeyView | null; onClose: () => void }) {
  const [shown, setShown] = useState<KeyView | null>(k);
  if (k && k !== shown) setShown(k);
  const current = k ?? shown;
  return (
    <Modal opened={k !== null} onClose={onClose} title="Delete API key" centered>
      {current && <DeleteBody key={current.id} k={current} onClose={onClose} />}
    </Modal>
  );
}

function DeleteBody({ k, onClose }: { k: KeyView; onClose: () => void }) {
  const del = useDeleteKey();
  // The server's 409 may list endpoints added since the list was loaded.
  const [users, setUsers] = useState<Ref[]>(k.endpoints);
  const [typed, setTyped] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const inUse = users.length > 0;
  const confirmed = !inUse || typed === k.name;

  async function remove() {
    setFailure(null);
    try {
      await del.mutateAsync({ id: k.id, force: inUse });
      notifications.show({
        color: "green",
        message: inUse
          ? `Deleted “${k.name}”. ${users.length === 1 ? "1 endpoint needs" : `${users.length} endpoints need`} another key.`
          : `Deleted “${k.name}”.`,
      });
      onClose();
    } catch (err) {
      if (err instanceof ApiError && err.code === "key_in_use" && Array.isArray(err.extra.endpoints)) {
        setUsers(err.extra.endpoints as Ref[]);
        return;
      }
      setFailure(errorMessage(err));
    }
  }

  return (
    <Stack gap="md">
      {failure && (
        <Alert color="red" role="alert">
          {failure}
        </Alert>
      )}
      {inUse ? (
        <>
          <Alert color="red" icon={<IconAlert />} title={`${users.length === 1 ? "1 endpoint uses" : `${users.length} endpoints use`} this key`} role="alert">
            <Text size="sm">
              After deleting, these endpoints answer 503 until you give them another key:
            </Text>
            <List size="sm" mt="xs" aria-label="Endpoints using this key">
              {users.map((e) => (
                <List.Item key={e.id}>
                  <Anchor size="sm" href={href(ROUTES.endpoints, { endpoint: e.id })} onClick={onClose}>
                    {e.name}
                  </Anchor>
                </List.Item>
              ))}
            </List>
          </Alert>
          <TextInput
            label={
              <>
                Type <Code>{k.name}</Code> to confirm
              </>
            }
            data-autofocus
            autoComplete="off"
            spellCheck={false}
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && confirmed) void remove();
            }}
          />
        </>
      ) : (
        <Text size="sm">
          Delete the API key <b>{k.name}</b>? Its encrypted credential is erased; this cannot be undone.
        </Text>
      )}
      <Group justify="flex-end" gap="sm">
        <Button variant="default" onClick={onClose} disabled={del.isPending} data-autofocus={inUse ? undefined : true}>
          Cancel
        </Button>
        <Button color="red" onClick={remove} disabled={!confirmed} loading={del.isPending}>
          Delete
        </Button>
      </Group>
    </Stack>
  );
}
