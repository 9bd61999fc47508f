// The API keys as a table (wide windows) or as cards (phones).
import { Anchor, Badge, Code, Group, Stack, Text } from "@mantine/core";
import type { KeyView, ProviderView } from "../api/types";
import { href, ROUTES } from "../lib/router";
import { RowActions } from "../components/RowActions";
import { ListView, type Column } from "../components/ListView";
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

function columns(providers: ProviderView[] | undefined): Column<KeyView>[] {
  return [
    { label: "Provider", cell: (k) => <Provider k={k} providers={providers} /> },
    { label: "Credential", cell: (k) => <MaskedCredential k={k} providers={providers} /> },
    { label: "Endpoints", cell: (k) => <EndpointLinks k={k} /> },
    { label: "Limits", col: "limits", cell: (k) => <LimitUse scope="key" id={k.id} limits={k.limits} /> },
    { label: "Last used", col: "last-used", cell: (k) => <LastUsed item={k} /> },
    { label: "Last updated", cardLabel: "Updated", cell: (k) => <TimeCell iso={k.updated_at} /> },
    { label: "Created", cell: (k) => <TimeCell iso={k.created_at} /> },
  ];
}

export function KeyList({ keys, providers, narrow, onEdit, onDelete }: ListProps & { narrow: boolean }) {
  return (
    <ListView
      items={keys}
      label="API keys"
      narrow={narrow}
      minWidth={1040}
      name={(k) => <Name k={k} />}
      columns={columns(providers)}
      actions={(k) => <Actions k={k} onEdit={() => onEdit(k)} onDelete={() => onDelete(k)} />}
      itemProps={(k) => ({ key: k.id, "data-key-id": k.id })}
    />
  );
}
