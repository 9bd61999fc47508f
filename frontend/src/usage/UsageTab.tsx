// The Usage tab: totals, requests/tokens/cost over time, a breakdown by endpoint, key,
// token or model, and the newest calls. Everything reads /api/v1/usage[/requests].
import { useEffect, useMemo, useState } from "react";
import { Group, Paper, SegmentedControl, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { AreaChart, BarChart } from "@mantine/charts";
import "@mantine/charts/styles.css";
import { useUsageReport, useUsageRequests } from "../api/queries";
import type { UsageGroupBy, UsageRow, UsageTotals } from "../api/types";
import { Loaded } from "./Loaded";
import { formatCost, formatCount, formatMs } from "./format";
import { BreakdownTable, RecentCalls } from "./UsageTables";

const RANGES = {
  "24h": { label: "Last 24 hours", hours: 24, bucket: "hour" },
  "7d": { label: "Last 7 days", hours: 24 * 7, bucket: "day" },
  "30d": { label: "Last 30 days", hours: 24 * 30, bucket: "day" },
} as const;
type RangeId = keyof typeof RANGES;
const GROUPS: { value: UsageGroupBy; label: string }[] = [
  { value: "endpoint", label: "Endpoint" },
  { value: "key", label: "API key" },
  { value: "token", label: "Access token" },
  { value: "model", label: "Model" },
];

/** The end of the window, moved on every 30 s so the charts follow the clock. */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), 30_000);
    return () => window.clearInterval(id);
  }, []);
  return now;
}

function Stat({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <Paper withBorder p="sm" radius="md" role="group" aria-label={label}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text fw={650} size="xl" data-stat={label}>
        {value}
      </Text>
      {hint && (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      )}
    </Paper>
  );
}

function Totals({ t }: { t: UsageTotals }) {
  return (
    <SimpleGrid cols={{ base: 2, sm: 3, lg: 5 }} spacing="sm">
      <Stat label="Requests" value={formatCount(t.requests)} hint={`${formatCount(t.errors)} errors`} />
      <Stat label="Input tokens" value={formatCount(t.input_tokens)} hint={`${formatCount(t.cached_input_tokens)} cached`} />
      <Stat label="Output tokens" value={formatCount(t.output_tokens)} />
      <Stat label="Cost" value={formatCost(t.cost_usd)} hint="priced calls" />
      <Stat label="Latency" value={formatMs(t.latency_ms_p50)} hint={`p95 ${formatMs(t.latency_ms_p95)}`} />
    </SimpleGrid>
  );
}

function bucketLabel(iso: string, bucket: "hour" | "day"): string {
  const d = new Date(iso);
  return bucket === "hour"
    ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

function Charts({ rows, bucket }: { rows: UsageRow[]; bucket: "hour" | "day" }) {
  const data = rows.map((r) => ({
    at: bucketLabel(r.group, bucket),
    requests: r.requests - r.errors,
    errors: r.errors,
    input: r.input_tokens,
    output: r.output_tokens,
    cost: r.cost_usd,
  }));
  return (
    <SimpleGrid cols={{ base: 1, md: 3 }} spacing="sm">
      <Paper withBorder p="sm" radius="md" aria-label="Requests over time" role="figure">
        <Text size="sm" fw={600} mb="xs">
          Requests
        </Text>
        <BarChart h={180} data={data} dataKey="at" type="stacked" withLegend tickLine="none" gridAxis="y"
          series={[{ name: "requests", label: "OK", color: "indigo.6" }, { name: "errors", label: "Errors", color: "red.6" }]} />
      </Paper>
      <Paper withBorder p="sm" radius="md" aria-label="Tokens over time" role="figure">
        <Text size="sm" fw={600} mb="xs">
          Tokens
        </Text>
        <AreaChart h={180} data={data} dataKey="at" type="stacked" withLegend tickLine="none" gridAxis="y" curveType="linear"
          valueFormatter={formatCount}
          series={[{ name: "input", label: "Input", color: "teal.6" }, { name: "output", label: "Output", color: "grape.6" }]} />
      </Paper>
      <Paper withBorder p="sm" radius="md" aria-label="Cost over time" role="figure">
        <Text size="sm" fw={600} mb="xs">
          Cost (USD)
        </Text>
        <AreaChart h={180} data={data} dataKey="at" withLegend tickLine="none" gridAxis="y" curveType="linear"
          valueFormatter={formatCost} series={[{ name: "cost", label: "Cost", color: "orange.6" }]} />
      </Paper>
    </SimpleGrid>
  );
}

export function UsageTab() {
  const [range, setRange] = useState<RangeId>("24h");
  const [groupBy, setGroupBy] = useState<UsageGroupBy>("token");
  const now = useNow();
  const window_ = useMemo(() => {
    const to = new Date(Math.ceil(now / 60_000) * 60_000);
    return { from: new Date(to.getTime() - RANGES[range].hours * 3600_000).toISOString(), to: to.toISOString() };
  }, [now, range]);
  const bucket = RANGES[range].bucket;
  const overTime = useUsageReport({ ...window_, group_by: bucket });
  const grouped = useUsageReport({ ...window_, group_by: groupBy });
  const recent = useUsageRequests({ limit: 25, ...window_ });

  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="wrap" gap="sm">
        <SegmentedControl aria-label="Time range" value={range} onChange={(v) => setRange(v as RangeId)}
          data={Object.entries(RANGES).map(([value, r]) => ({ value, label: r.label }))} />
      </Group>
      <Loaded query={overTime}>
        {(report) => (
          <Stack gap="md">
            <Totals t={report.totals} />
            <Charts rows={report.rows} bucket={bucket} />
          </Stack>
        )}
      </Loaded>
      <Group justify="space-between" wrap="wrap" gap="sm" mt="sm">
        <Title order={2} size="h4">
          Breakdown
        </Title>
        <SegmentedControl aria-label="Group by" value={groupBy} onChange={(v) => setGroupBy(v as UsageGroupBy)} data={GROUPS} />
      </Group>
      <Loaded query={grouped}>
        {(report) => <BreakdownTable rows={report.rows} groupBy={groupBy} />}
      </Loaded>
      <Title order={2} size="h4" mt="sm">
        Recent calls
      </Title>
      <Loaded query={recent}>
        {(page) => <RecentCalls records={page.records} />}
      </Loaded>
    </Stack>
  );
}
