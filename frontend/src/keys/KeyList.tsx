// The API keys as a table (wide windows) or as cards (phones).
import {
  Anchor,
  Badge,
  Card,
  Code,
  Group,
  Stack,
  Table,
  Text,
  VisuallyHidden,
} from "@mantine/core";
import type { KeyView, ProviderView } from "../api/types";
import { href, ROUTES } from "../lib/router";
import { RowActions } from "../components/RowActions";
import { TimeCell } from "../components/TimeCell";
import { LastUsed } from "../components/LastUsed";
import { LimitUse } from "../limits/LimitUse";

interface ListProps {
  keys: KeyView[];
  providers: ProviderView[] | undefined;
  onEdit: (k: KeyView) => void;
  onDelete: (k: KeyView) => void;
}

function method(providers: ProviderView[] | undefined, key: KeyView) {
  return providers?.find((p) => p.id === key.provider)?.auth_methods.find((m) => m.id === key.auth_method);
}

function fieldLabel(providers: ProviderView[] | undefined, key: KeyView, field: string): string {
  return method(providers, key)?.secret_fields.find((f) => f.name === field)?.label ?? field;
}

/** The auth method's label, only when the provider offers several (else it is noise). */
function authLabel(providers: ProviderView[] | undefined, key: KeyView): string | null {
  const provider = providers?.find((p) => p.id === key.provider);
  if (!provider || provider.auth_methods.length < 2) return null;
  return method(providers, key)?.label ?? key.auth_method;
}

function MaskedCredential({ k, providers }: { k: KeyView; providers: ProviderView[] | undefined }) {
  const entries = Object.entries(k.masked);
  if (entries.length === 0) return <Text size="sm" c="dimmed">No secret</Text>;
  return (
    <Stack gap={2}>
      {k.rotation_due && (
        <Badge size="xs" color="orange" variant="light" title={`Older than ${k.rotate_after_days} days`}>
          Rotation due
        </Badge>
      )}
      {entries.map(([field, masked]) => (
        <Group key={field} gap={6} wrap="nowrap">
          {entries.length > 1 && (
            <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
              {fieldLabel(providers, k, field)}
            </Text>
          )}
          <Code style={masked.length > 24 ? { wordBreak: "break-all" } : { whiteSpace: "nowrap" }} title={`${fieldLabel(providers, k, field)} (masked)`}>
            {masked}
          </Code>
        </Group>
      ))}
    </Stack>
  );
}

function EndpointLinks({ k }: { k: KeyView }) {
  if (k.endpoints.length === 0) return <Text size="sm" c="dimmed">None</Text>;
  return (
    <Group gap={8} component="ul" style={{ listStyle: "none", padding: 0, margin: 0 }} aria-label={`Endpoints using ${k.name}`}>
      {k.endpoints.map((e) => (
        <li key={e.id}>
          <Anchor size="sm" href={href(ROUTES.endpoints, { endpoint: e.id })}>
            {e.name}
          </Anchor>
        </li>
      ))}
    </Group>
  );
}

function Provider({ k, providers }: { k: KeyView; providers: ProviderView[] | undefined }) {
  const auth = authLabel(providers, k);
  return (
    <div>
      <Text size="sm">{k.provider_display_name}</Text>
      {auth && (
        <Text size="xs" c="dimmed">
          {auth}
        </Text>
      )}
    </div>
  );
}

function Actions({ k, onEdit, onDelete }: { k: KeyView; onEdit: () => void; onDelete: () => void }) {
  return <RowActions name={k.name} onEdit={onEdit} onDelete={onDelete} />;
}

function Name({ k }: { k: KeyView }) {
  return (
    <div>
      <Text fw={600} size="sm" miw={140} style={{ overflowWrap: "break-word" }}>
        {k.name}
      </Text>
      {k.description && (
        <Text size="xs" c="dimmed" lineClamp={2}>
          {k.description}
        </Text>
      )}
    </div>
  );
}

export function KeyTable({ keys, providers, onEdit, onDelete }: ListProps) {
  return (
    <Table.ScrollContainer minWidth={1040}>
      <Table className="kh-table" verticalSpacing="sm" highlightOnHover aria-label="API keys">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Provider</Table.Th>
            <Table.Th>Credential</Table.Th>
            <Table.Th>Endpoints</Table.Th>
            <Table.Th>Limits</Table.Th>
            <Table.Th style={{ whiteSpace: "nowrap" }}>Last used</Table.Th>
            <Table.Th style={{ whiteSpace: "nowrap" }}>Last updated</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {keys.map((k) => (
            <Table.Tr key={k.id} data-key-id={k.id}>
              <Table.Td>
                <Name k={k} />
              </Table.Td>
              <Table.Td>
                <Provider k={k} providers={providers} />
              </Table.Td>
              <Table.Td>
                <MaskedCredential k={k} providers={providers} />
              </Table.Td>
              <Table.Td>
                <EndpointLinks k={k} />
              </Table.Td>
              <Table.Td data-col="limits">
                <LimitUse scope="key" id={k.id} limits={k.limits} />
              </Table.Td>
              <Table.Td data-col="last-used">
                <LastUsed item={k} />
              </Table.Td>
              <Table.Td>
                <TimeCell iso={k.updated_at} />
              </Table.Td>
              <Table.Td>
                <TimeCell iso={k.created_at} />
              </Table.Td>
              <Table.Td>
                <Actions k={k} onEdit={() => onEdit(k)} onDelete={() => onDelete(k)} />
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
      <Text size="xs" c="dimmed" w={84} pt={2} style={{ flexShrink: 0 }}>
        {label}
      </Text>
      <div style={{ minWidth: 0 }}>{children}</div>
    </Group>
  );
}

export function KeyCards({ keys, providers, onEdit, onDelete }: ListProps) {
  return (
    <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: "none" }} aria-label="API keys">
      {keys.map((k) => (
        <Card key={k.id} component="li" withBorder padding="sm" data-key-id={k.id}>
          <Group justify="space-between" align="flex-start" wrap="nowrap" mb="xs">
            <Name k={k} />
            <Actions k={k} onEdit={() => onEdit(k)} onDelete={() => onDelete(k)} />
          </Group>
          <Stack gap={6}>
            <Labelled label="Provider">
              <Provider k={k} providers={providers} />
            </Labelled>
            <Labelled label="Credential">
              <MaskedCredential k={k} providers={providers} />
            </Labelled>
            <Labelled label="Endpoints">
              <EndpointLinks k={k} />
            </Labelled>
            <Labelled label="Limits">
              <LimitUse scope="key" id={k.id} limits={k.limits} />
            </Labelled>
            <Labelled label="Last used">
              <LastUsed item={k} />
            </Labelled>
            <Labelled label="Updated">
              <TimeCell iso={k.updated_at} />
            </Labelled>
            <Labelled label="Created">
              <TimeCell iso={k.created_at} />
            </Labelled>
          </Stack>
        </Card>
      ))}
    </Stack>
  );
}
