import { useMemo, useState } from "react";
import { Button, EmptyState, Group, Select, Stack, TextInput } from "@mantine/core";
import { useKeys, useProviders } from "../api/queries";
import type { KeyView } from "../api/types";
import { useNarrow } from "../lib/useNarrow";
import { IconKey, IconPlus, IconSearch } from "../components/icons";
import { LoadError, TableSkeleton } from "../components/DataState";
import { KeyList } from "./KeyList";
import { KeyFormModal } from "./KeyFormModal";
import { DeleteKeyModal } from "./DeleteKeyModal";

type Editing = { mode: "create" } | { mode: "edit"; key: KeyView } | null;

export function KeysTab() {
  const keys = useKeys();
  const providers = useProviders();
  const narrow = useNarrow();
  const [search, setSearch] = useState("");
  const [provider, setProvider] = useState<string | null>(null);
  const [editing, setEditing] = useState<Editing>(null);
  const [deleting, setDeleting] = useState<KeyView | null>(null);

  const providerOptions = useMemo(() => {
    const used = new Map<string, string>();
    for (const k of keys.data ?? []) used.set(k.provider, k.provider_display_name);
    return [...used].map(([value, label]) => ({ value, label })).sort((a, b) => a.label.localeCompare(b.label));
  }, [keys.data]);

  const rows = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (keys.data ?? []).filter(
      (k) =>
        (!provider || k.provider === provider) &&
        (!q ||
          k.name.toLowerCase().includes(q) ||
          (k.description ?? "").toLowerCase().includes(q) ||
          k.provider_display_name.toLowerCase().includes(q) ||
          k.endpoints.some((e) => e.name.toLowerCase().includes(q))),
    );
  }, [keys.data, search, provider]);

  const createButton = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing({ mode: "create" })}>
      Create API key
    </Button>
  );

  let body;
  if (keys.isPending) body = <TableSkeleton />;
  else if (keys.isError) body = <LoadError error={keys.error} retry={() => keys.refetch()} />;
  else if (keys.data.length === 0)
    body = (
      <EmptyState
        py="xl"
        variant="light"
        icon={<IconKey size={28} />}
        title="No API keys yet"
        description={
          <>
            An API key stores one provider credential — an OpenAI key, an Azure OpenAI key, a
            Google service account, AWS access keys — encrypted at rest. Endpoints use it to
            call the provider, and the secret never leaves the server again. Rotate it here
            and every endpoint that uses it switches at once.
          </>
        }
      >
        <EmptyState.Actions>{createButton}</EmptyState.Actions>
      </EmptyState>
    );
  else if (rows.length === 0)
    body = (
      <EmptyState
        py="xl"
        icon={<IconSearch size={28} />}
        title="No API keys match"
        description="Try another search or provider."
      >
        <EmptyState.Actions>
          <Button variant="default" onClick={() => { setSearch(""); setProvider(null); }}>
            Clear filters
          </Button>
        </EmptyState.Actions>
      </EmptyState>
    );
  else
    body = (
      <KeyList keys={rows} providers={providers.data} narrow={narrow} onEdit={(k) => setEditing({ mode: "edit", key: k })} onDelete={setDeleting} />
    );

  const hasKeys = (keys.data?.length ?? 0) > 0;
  return (
    <Stack gap="md">
      {hasKeys && (
        <Group gap="sm" align="flex-end">
          <TextInput
            aria-label="Search API keys"
            placeholder="Search by name, provider or endpoint"
            leftSection={<IconSearch size={16} />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            style={{ flex: "1 1 240px" }}
            maw={380}
          />
          <Select
            aria-label="Filter by provider"
            placeholder="All providers"
            data={providerOptions}
            value={provider}
            onChange={setProvider}
            clearable
            style={{ flex: "1 1 150px" }}
            maw={220}
          />
          <Group ml="auto">{createButton}</Group>
        </Group>
      )}
      {body}
      <KeyFormModal
        editing={editing}
        onClose={() => setEditing(null)}
        existing={keys.data ?? []}
      />
      <DeleteKeyModal k={deleting} onClose={() => setDeleting(null)} />
    </Stack>
  );
}
