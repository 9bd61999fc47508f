import { useEffect, useMemo, useRef, useState } from "react";
import { Button, EmptyState, Group, Stack, TextInput } from "@mantine/core";
import { useEndpoints, useKeys, useProviders } from "../api/queries";
import type { EndpointView } from "../api/types";
import { href, ROUTES } from "../lib/router";
import { useNarrow } from "../lib/useNarrow";
import { IconPlus, IconRoute, IconSearch } from "../components/icons";
import { LoadError, TableSkeleton } from "../components/DataState";
import { EndpointCards, EndpointTable, type EndpointListProps } from "./EndpointList";
import { EndpointFormModal, type EndpointEditing } from "./EndpointFormModal";
import { DeleteEndpointModal } from "./DeleteEndpointModal";
import { TryItDrawer } from "./TryItDrawer";

export function EndpointsTab({ highlightId }: { highlightId: string | null }) {
  const endpoints = useEndpoints();
  const keys = useKeys();
  const providers = useProviders();
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState<EndpointEditing>(null);
  const [deleting, setDeleting] = useState<EndpointView | null>(null);
  const [trying, setTrying] = useState<EndpointView | null>(null);
  const highlightRef = useRef<HTMLElement>(null);
  const narrow = useNarrow();

  const rows = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (endpoints.data ?? []).filter(
      (e) =>
        !q ||
        e.name.toLowerCase().includes(q) ||
        (e.aliases ?? []).some((a) => a.toLowerCase().includes(q)) ||
        e.targets.some((t) => t.model.toLowerCase().includes(q) || (t.key_name ?? "").toLowerCase().includes(q)),
    );
  }, [endpoints.data, search]);

  const highlighted = endpoints.data?.some((e) => e.id === highlightId) ? highlightId : null;
  useEffect(() => {
    if (highlighted && highlightRef.current) {
      highlightRef.current.scrollIntoView({ block: "center", behavior: "smooth" });
      highlightRef.current.focus({ preventScroll: true });
    }
  }, [highlighted]);

  const listProps: EndpointListProps = {
    endpoints: rows,
    providers: providers.data,
    highlighted,
    highlightRef,
    onTry: setTrying,
    onEdit: (e) => setEditing({ mode: "edit", endpoint: e }),
    onDelete: setDeleting,
  };

  const noKeys = keys.isSuccess && keys.data.length === 0;
  const createButton = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing({ mode: "create" })} disabled={noKeys}>
      Create endpoint
    </Button>
  );

  let body;
  if (endpoints.isPending) body = <TableSkeleton />;
  else if (endpoints.isError) body = <LoadError error={endpoints.error} retry={() => endpoints.refetch()} />;
  else if (endpoints.data.length === 0)
    body = (
      <EmptyState
        py="xl"
        variant="light"
        icon={<IconRoute size={28} />}
        title="No endpoints yet"
        description={
          noKeys
            ? "An endpoint is the name your applications send as the model. It routes to a provider model using one of your API keys — so add an API key first."
            : "An endpoint is the name your applications send as the model. It routes to a provider model with one of your API keys, with optional fallbacks and a traffic split."
        }
      >
        <EmptyState.Actions>
          {noKeys ? (
            <Button component="a" href={href(ROUTES.apiKeys)}>
              Go to API Keys
            </Button>
          ) : (
            createButton
          )}
        </EmptyState.Actions>
      </EmptyState>
    );
  else if (rows.length === 0)
    body = (
      <EmptyState py="xl" icon={<IconSearch size={28} />} title="No endpoints match" description="Try another search.">
        <EmptyState.Actions>
          <Button variant="default" onClick={() => setSearch("")}>
            Clear search
          </Button>
        </EmptyState.Actions>
      </EmptyState>
    );
  else
    body = (
      narrow ? <EndpointCards {...listProps} /> : <EndpointTable {...listProps} />
    );

  return (
    <Stack gap="md">
      {(endpoints.data?.length ?? 0) > 0 && (
        <Group justify="space-between" gap="sm">
          <TextInput
            aria-label="Search endpoints"
            placeholder="Search by name, model or key"
            leftSection={<IconSearch size={16} />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            style={{ flex: "1 1 220px" }}
            maw={360}
          />
          {createButton}
        </Group>
      )}
      {body}
      <EndpointFormModal editing={editing} onClose={() => setEditing(null)} existing={endpoints.data ?? []} />
      <DeleteEndpointModal endpoint={deleting} onClose={() => setDeleting(null)} />
      <TryItDrawer endpoint={trying} onClose={() => setTrying(null)} />
    </Stack>
  );
}
