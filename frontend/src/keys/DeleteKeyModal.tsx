import { useState } from "react";
import { Alert, Anchor, Code, List, Modal, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { ApiError, errorMessage } from "../api/errors";
import { useDeleteKey, useUsageReport } from "../api/queries";
import type { KeyView } from "../api/types";
import { href, ROUTES } from "../lib/router";
import { IconAlert } from "../components/icons";
import { plural } from "../lib/format";
import { ConfirmActions, useLastShown } from "../components/ConfirmModal";
import { FailureAlert } from "../components/FailureAlert";

interface Ref {
  id: string;
  name: string;
}

export function DeleteKeyModal({ k, onClose }: { k: KeyView | null; onClose: () => void }) {
  const current = useLastShown(k);
  return (
    <Modal opened={k !== null} onClose={onClose} title="Delete API key" centered>
      {current && <DeleteBody key={current.id} k={current} onClose={onClose} />}
    </Modal>
  );
}

interface Caller {
  name: string;
  requests: number;
}

const WEEK_MS = 7 * 24 * 3600_000;

/** The access tokens that called through the key in the last 7 days. */
function useRecentCallers(keyId: string): Caller[] {
  const [window_] = useState(() => {
    const to = Date.now();
    return { from: new Date(to - WEEK_MS).toISOString(), to: new Date(to + 60_000).toISOString() };
  });
  const report = useUsageReport({ ...window_, group_by: "token", key: keyId });
  return (report.data?.rows ?? []).filter((r) => r.requests > 0).map((r) => ({ name: r.group, requests: r.requests }));
}

function RecentCallers({ callers }: { callers: Caller[] }) {
  if (callers.length === 0) return null;
  return (
    <Alert color="orange" icon={<IconAlert />} title={`${plural(callers.length, "access token", "access tokens")} called through this key in the last 7 days`}>
      <List size="sm" aria-label="Recent callers">
        {callers.map((c) => (
          <List.Item key={c.name}>
            <b>{c.name}</b> — {plural(c.requests, "call", "calls")}
          </List.Item>
        ))}
      </List>
    </Alert>
  );
}

function DeleteBody({ k, onClose }: { k: KeyView; onClose: () => void }) {
  const del = useDeleteKey();
  const recent = useRecentCallers(k.id);
  // The server's 409 names the callers too, as of the moment of the delete.
  const [served, setServed] = useState<Caller[] | null>(null);
  const callers = served ?? recent;
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
        if (Array.isArray(err.extra.recent_callers)) {
          setServed(
            (err.extra.recent_callers as { token: { name: string | null } | "admin"; requests: number }[]).map((c) => ({
              name: c.token === "admin" ? "admin" : (c.token.name ?? "—"),
              requests: c.requests,
            })),
          );
        }
        return;
      }
      setFailure(errorMessage(err));
    }
  }

  return (
    <Stack gap="md">
      <FailureAlert failure={failure} />
      <RecentCallers callers={callers} />
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
      <ConfirmActions
        label="Delete"
        onCancel={onClose}
        onConfirm={remove}
        pending={del.isPending}
        disabled={!confirmed}
        // When endpoints use the key, the confirm box takes the focus instead.
        focusCancel={!inUse}
      />
    </Stack>
  );
}
