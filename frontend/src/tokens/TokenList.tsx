// The access tokens as a table (wide windows) or as cards (phones).
import { ActionIcon, Badge, Card, Group, Stack, Table, Text, Tooltip, VisuallyHidden } from "@mantine/core";
import type { AccessTokenView } from "../api/types";
import { IconRotate } from "../components/icons";
import { LastUsed } from "../components/LastUsed";
import { RowActions } from "../components/RowActions";
import { TimeCell } from "../components/TimeCell";
import { LimitUse } from "../limits/LimitUse";
import { isExpired, scopeLabel } from "./tokenForm";

export interface TokenListProps {
  tokens: AccessTokenView[];
  onEdit: (t: AccessTokenView) => void;
  onRotate: (t: AccessTokenView) => void;
  onRevoke: (t: AccessTokenView) => void;
}

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

/** When it expires, and while a rotation's grace lasts, until when the old secret works. */
function Expiry({ t }: { t: AccessTokenView }) {
  return (
    <Stack gap={2} data-col="expires">
      {!t.expires_at ? (
        <Text size="sm" c="dimmed">
          Never
        </Text>
      ) : isExpired(t) ? (
        <Group gap={6} wrap="nowrap">
          <Badge size="sm" color="red" variant="light">
            Expired
          </Badge>
          <TimeCell iso={t.expires_at} />
        </Group>
      ) : (
        <TimeCell iso={t.expires_at} />
      )}
      {t.previous_valid_until && (
        <Text size="xs" c="orange" component="div" style={{ whiteSpace: "nowrap" }}>
          Old secret works until <TimeCell iso={t.previous_valid_until} />
        </Text>
      )}
    </Stack>
  );
}

function Actions({ t, onEdit, onRotate, onRevoke }: { t: AccessTokenView; onEdit: () => void; onRotate: () => void; onRevoke: () => void }) {
  return (
    <RowActions name={t.name} onEdit={onEdit} onDelete={onRevoke} deleteLabel="Revoke">
      <Tooltip label="Rotate">
        <ActionIcon variant="subtle" color="gray" aria-label={`Rotate ${t.name}`} onClick={onRotate}>
          <IconRotate />
        </ActionIcon>
      </Tooltip>
    </RowActions>
  );
}

function Name({ t }: { t: AccessTokenView }) {
  return (
    <div>
      <Text fw={600} size="sm" style={{ overflowWrap: "anywhere" }}>
        {t.name}
      </Text>
      <Text size="xs" c="dimmed" className="kh-mono">
        {t.prefix}…
      </Text>
    </div>
  );
}

export function TokenTable({ tokens, onEdit, onRotate, onRevoke }: TokenListProps) {
  return (
    <Table.ScrollContainer minWidth={960}>
      <Table className="kh-table" verticalSpacing="sm" highlightOnHover aria-label="Access tokens">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>May call</Table.Th>
            <Table.Th>Limits</Table.Th>
            <Table.Th>Expires</Table.Th>
            <Table.Th style={{ whiteSpace: "nowrap" }}>Last used</Table.Th>
            <Table.Th>Created</Table.Th>
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
              <Table.Td data-col="limits">
                <LimitUse scope="token" id={t.id} limits={t.limits} />
              </Table.Td>
              <Table.Td>
                <Expiry t={t} />
              </Table.Td>
              <Table.Td data-col="last-used">
                <LastUsed item={t} />
              </Table.Td>
              <Table.Td>
                <TimeCell iso={t.created_at} />
              </Table.Td>
              <Table.Td ta="right">
                <Actions t={t} onEdit={() => onEdit(t)} onRotate={() => onRotate(t)} onRevoke={() => onRevoke(t)} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function Labelled({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <Group gap="xs" align="flex-start" wrap="nowrap">
      <Text size="xs" c="dimmed" w={72} pt={2} style={{ flexShrink: 0 }}>
        {label}
      </Text>
      <div style={{ minWidth: 0, flex: 1 }}>{children}</div>
    </Group>
  );
}

export function TokenCards({ tokens, onEdit, onRotate, onRevoke }: TokenListProps) {
  return (
    <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: "none" }} aria-label="Access tokens">
      {tokens.map((t) => (
        <Card key={t.id} component="li" withBorder padding="sm" data-token-id={t.id}>
          <Group justify="space-between" align="flex-start" wrap="nowrap" mb="xs">
            <Name t={t} />
            <Actions t={t} onEdit={() => onEdit(t)} onRotate={() => onRotate(t)} onRevoke={() => onRevoke(t)} />
          </Group>
          <Stack gap={6}>
            <Labelled label="May call">
              <Scope t={t} />
            </Labelled>
            <Labelled label="Limits">
              <LimitUse scope="token" id={t.id} limits={t.limits} />
            </Labelled>
            <Labelled label="Expires">
              <Expiry t={t} />
            </Labelled>
            <Labelled label="Last used">
              <LastUsed item={t} />
            </Labelled>
            <Labelled label="Created">
              <TimeCell iso={t.created_at} />
            </Labelled>
          </Stack>
        </Card>
      ))}
    </Stack>
  );
}
