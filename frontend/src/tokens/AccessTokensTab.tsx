import { useState } from "react";
import { ActionIcon, Badge, Button, Card, EmptyState, Group, Stack, Table, Text, Tooltip, VisuallyHidden } from "@mantine/core";
import { useAccessTokens } from "../api/queries";
import type { AccessTokenView } from "../api/types";
import { useNarrow } from "../lib/useNarrow";
import { IconPlus, IconTicket, IconTrash } from "../components/icons";
import { LoadError, TableSkeleton } from "../components/DataState";
import { TimeCell } from "../components/TimeCell";
import { CreateTokenModal } from "./CreateTokenModal";
import { RevokeTokenModal } from "./RevokeTokenModal";
import { hasLastUsed, scopeLabel } from "./tokenForm";

function Scope({ t }: { t: AccessTokenView }) {
  if (t.endpoints === null || t.endpoints === undefined)
    return (
      <Badge variant="light" color="gray">
        All endpoints
      </Badge>
    );
  return (
    <Text size="sm" className="kh-mono" style={{ wordBreak: "break-word" }}>
      {scopeLabel(t)}
    </Text>
  );
}

function Revoke({ t, onRevoke }: { t: AccessTokenView; onRevoke: () => void }) {
  return (
    <Tooltip label="Revoke">
      <ActionIcon variant="subtle" color="red" aria-label={`Revoke ${t.name}`} onClick={onRevoke}>
        <IconTrash />
      </ActionIcon>
    </Tooltip>
  );
}

function Name({ t }: { t: AccessTokenView }) {
  return (
    <div>
      <Text fw={600} size="sm">
        {t.name}
      </Text>
      <Text size="xs" c="dimmed" className="kh-mono">
        {t.prefix}…
      </Text>
    </div>
  );
}

interface ListProps {
  tokens: AccessTokenView[];
  onRevoke: (t: AccessTokenView) => void;
}

function TokenTable({ tokens, onRevoke }: ListProps) {
  const lastUsed = hasLastUsed(tokens);
  return (
    <Table.ScrollContainer minWidth={640}>
      <Table className="kh-table" verticalSpacing="sm" highlightOnHover aria-label="Access tokens">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>May call</Table.Th>
            <Table.Th>Created</Table.Th>
            {lastUsed && <Table.Th style={{ whiteSpace: "nowrap" }}>Last used</Table.Th>}
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {tokens.map((t) => (
            <Table.Tr key={t.id} data-token-id={t.id}>
              <Table.Td>
                <Name t={t} />
              </Table.Td>
              <Table.Td>
                <Scope t={t} />
              </Table.Td>
              <Table.Td>
                <TimeCell iso={t.created_at} />
              </Table.Td>
              {lastUsed && (
                <Table.Td>{t.last_used_at ? <TimeCell iso={t.last_used_at} /> : <Text size="sm" c="dimmed">never</Text>}</Table.Td>
              )}
              <Table.Td ta="right">
                <Revoke t={t} onRevoke={() => onRevoke(t)} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function TokenCards({ tokens, onRevoke }: ListProps) {
  const lastUsed = hasLastUsed(tokens);
  return (
    <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: "none" }} aria-label="Access tokens">
      {tokens.map((t) => (
        <Card key={t.id} component="li" withBorder padding="sm" data-token-id={t.id}>
          <Group justify="space-between" align="flex-start" wrap="nowrap" mb="xs">
            <Name t={t} />
            <Revoke t={t} onRevoke={() => onRevoke(t)} />
          </Group>
          <Stack gap={4}>
            <Scope t={t} />
            <Text size="xs" c="dimmed">
              Created <TimeCell iso={t.created_at} />
            </Text>
            {lastUsed && (
              <Text size="xs" c="dimmed">
                Last used {t.last_used_at ? <TimeCell iso={t.last_used_at} /> : "never"}
              </Text>
            )}
          </Stack>
        </Card>
      ))}
    </Stack>
  );
}

export function AccessTokensTab() {
  const tokens = useAccessTokens();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<AccessTokenView | null>(null);
  const narrow = useNarrow();

  const createButton = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
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
  else body = narrow ? <TokenCards tokens={tokens.data} onRevoke={setRevoking} /> : <TokenTable tokens={tokens.data} onRevoke={setRevoking} />;

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
      <CreateTokenModal opened={creating} onClose={() => setCreating(false)} />
      <RevokeTokenModal token={revoking} onClose={() => setRevoking(null)} />
    </Stack>
  );
}
