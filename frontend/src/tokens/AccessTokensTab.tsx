import { useState } from "react";
import { Button, EmptyState, Group, Stack, Text } from "@mantine/core";
import { useAccessTokens } from "../api/queries";
import type { AccessTokenView } from "../api/types";
import { useNarrow } from "../lib/useNarrow";
import { IconPlus, IconTicket } from "../components/icons";
import { LoadError, TableSkeleton } from "../components/DataState";
import { TokenFormModal, type TokenEditing } from "./TokenFormModal";
import { RevokeTokenModal } from "./RevokeTokenModal";
import { RotateTokenModal } from "./RotateTokenModal";
import { TokenList } from "./TokenList";

export function AccessTokensTab() {
  const tokens = useAccessTokens();
  const [editing, setEditing] = useState<TokenEditing>(null);
  const [rotating, setRotating] = useState<AccessTokenView | null>(null);
  const [revoking, setRevoking] = useState<AccessTokenView | null>(null);
  const narrow = useNarrow();

  const createButton = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing({ mode: "create" })}>
      Create access token
    </Button>
  );

  let body;
  if (tokens.isPending) body = <TableSkeleton />;
  else if (tokens.isError) body = <LoadError error={tokens.error} retry={() => tokens.refetch()} />;
  else if (tokens.data.length === 0)
    body = (
      <EmptyState
        py="xl"
        variant="light"
        icon={<IconTicket size={28} />}
        title="No access tokens yet"
        description="Applications send an access token as their API key when they call an endpoint. Create one per application, so you can revoke one without the others."
      >
        <EmptyState.Actions>{createButton}</EmptyState.Actions>
      </EmptyState>
    );
  else
    body = (
      <TokenList
        tokens={tokens.data}
        narrow={narrow}
        onEdit={(token) => setEditing({ mode: "edit", token })}
        onRotate={setRotating}
        onRevoke={setRevoking}
      />
    );

  return (
    <Stack gap="md">
      {(tokens.data?.length ?? 0) > 0 && (
        <Group justify="space-between" gap="sm">
          <Text size="sm" c="dimmed">
            Applications send one of these as their API key.
          </Text>
          {createButton}
        </Group>
      )}
      {body}
      <TokenFormModal editing={editing} onClose={() => setEditing(null)} />
      <RotateTokenModal token={rotating} onClose={() => setRotating(null)} />
      <RevokeTokenModal token={revoking} onClose={() => setRevoking(null)} />
    </Stack>
  );
}
