import { lazy, Suspense, type ReactNode } from "react";
import { Badge, Box, Tabs, Text, Title } from "@mantine/core";
import { useAccessTokens, useEndpoints, useKeys } from "../api/queries";
import { navigate, ROUTES, type Route } from "../lib/router";
import { KeysTab } from "../keys/KeysTab";
import { EndpointsTab } from "../endpoints/EndpointsTab";
import { AccessTokensTab } from "../tokens/AccessTokensTab";
import { TableSkeleton } from "./DataState";
import { IconChart, IconKey, IconRoute, IconTicket } from "./icons";

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

interface TabSpec {
  path: string;
  label: string;
  icon: ReactNode;
  count?: number;
  panel: ReactNode;
}

/** The gateway's tabs, in order: a new tab is one more entry here and a route in ROUTES. */
function useTabs(route: Route): TabSpec[] {
  const keys = useKeys();
  const endpoints = useEndpoints();
  const tokens = useAccessTokens();
  return [
    {
      path: ROUTES.endpoints,
      label: "Endpoints",
      icon: <IconRoute size={16} />,
      count: endpoints.data?.length,
      panel: <EndpointsTab highlightId={route.params.get("endpoint")} />,
    },
    { path: ROUTES.apiKeys, label: "API Keys", icon: <IconKey size={16} />, count: keys.data?.length, panel: <KeysTab /> },
    {
      path: ROUTES.accessTokens,
      label: "Access Tokens",
      icon: <IconTicket size={16} />,
      count: tokens.data?.length,
      panel: <AccessTokensTab />,
    },
    {
      path: ROUTES.usage,
      label: "Usage",
      icon: <IconChart size={16} />,
      panel: (
        <Suspense fallback={<TableSkeleton />}>
          <UsageTab />
        </Suspense>
      ),
    },
  ];
}

/** Every path the gateway shows (App sends anything else to the first tab). */
export const GATEWAY_PATHS: string[] = [ROUTES.endpoints, ROUTES.apiKeys, ROUTES.accessTokens, ROUTES.usage];

export function Gateway({ route }: { route: Route }) {
  const tabs = useTabs(route);
  const tab = tabs.find((t) => t.path === route.path)?.path ?? ROUTES.endpoints;

  return (
    <Box>
      <Title order={1} size="h2">
        AI Gateway
      </Title>
      <Text c="dimmed" size="sm" mt={4} mb="md">
        Endpoints are the model names your applications call; API keys hold the provider credentials they use,
        encrypted at rest; access tokens let your applications in.
      </Text>
      <Tabs value={tab} onChange={(v) => navigate(v ?? ROUTES.endpoints)} keepMounted={false}>
        <Tabs.List mb="md">
          {tabs.map((t) => (
            <Tabs.Tab key={t.path} value={t.path} leftSection={t.icon} rightSection={<Count n={t.count} />}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        {tabs.map((t) => (
          <Tabs.Panel key={t.path} value={t.path}>
            {t.panel}
          </Tabs.Panel>
        ))}
      </Tabs>
    </Box>
  );
}
