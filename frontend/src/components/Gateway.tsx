import { lazy, Suspense } from "react";
import { Badge, Box, Tabs, Text, Title } from "@mantine/core";
import { useEndpoints, useKeys } from "../api/queries";
import { navigate, ROUTES, type Route } from "../lib/router";
import { KeysTab } from "../keys/KeysTab";
import { EndpointsTab } from "../endpoints/EndpointsTab";
import { TableSkeleton } from "./DataState";
import { IconChart, IconKey, IconRoute } from "./icons";

// The charts library is most of the Usage tab's weight: load it when the tab is opened.
const UsageTab = lazy(() => import("../usage/UsageTab").then((m) => ({ default: m.UsageTab })));

function Count({ n }: { n: number | undefined }) {
  if (n === undefined) return null;
  return (
    <Badge size="sm" variant="light" color="gray" circle={n < 10} aria-label={`${n} total`}>
      {n}
    </Badge>
  );
}

export function Gateway({ route }: { route: Route }) {
  const tab = route.path === ROUTES.apiKeys ? "api-keys" : route.path === ROUTES.usage ? "usage" : "endpoints";
  const keys = useKeys();
  const endpoints = useEndpoints();

  return (
    <Box>
      <Title order={1} size="h2">
        AI Gateway
      </Title>
      <Text c="dimmed" size="sm" mt={4} mb="md">
        Endpoints are the model names your applications call; API keys hold the provider
        credentials they use, encrypted at rest.
      </Text>
      <Tabs
        value={tab}
        onChange={(v) => navigate(v === "api-keys" ? ROUTES.apiKeys : v === "usage" ? ROUTES.usage : ROUTES.endpoints)}
        keepMounted={false}
      >
        <Tabs.List mb="md">
          <Tabs.Tab value="endpoints" leftSection={<IconRoute size={16} />} rightSection={<Count n={endpoints.data?.length} />}>
            Endpoints
          </Tabs.Tab>
          <Tabs.Tab value="api-keys" leftSection={<IconKey size={16} />} rightSection={<Count n={keys.data?.length} />}>
            API Keys
          </Tabs.Tab>
          <Tabs.Tab value="usage" leftSection={<IconChart size={16} />}>
            Usage
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="endpoints">
          <EndpointsTab highlightId={route.params.get("endpoint")} />
        </Tabs.Panel>
        <Tabs.Panel value="api-keys">
          <KeysTab />
        </Tabs.Panel>
        <Tabs.Panel value="usage">
          <Suspense fallback={<TableSkeleton />}>
            <UsageTab />
          </Suspense>
        </Tabs.Panel>
      </Tabs>
    </Box>
  );
}
