// The breakdown under the charts and the table of the newest calls.
import { Badge, Group, Table, Text, Tooltip } from "@mantine/core";
import type { UsageGroupBy, UsageRecord, UsageRow } from "../api/types";
import { TimeCell } from "../components/TimeCell";
import { formatCost, formatCount, formatMs } from "./format";

const GROUP_LABEL: Record<string, string> = {
  endpoint: "Endpoint",
  key: "API key",
  token: "Access token",
  model: "Model",
  provider: "Provider",
};

export function BreakdownTable({ rows, groupBy }: { rows: UsageRow[]; groupBy: UsageGroupBy }) {
  if (rows.length === 0) return <Text size="sm" c="dimmed">No calls in this range.</Text>;
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table className="kh-table" verticalSpacing="xs" highlightOnHover aria-label={`Usage by ${GROUP_LABEL[groupBy]}`}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{GROUP_LABEL[groupBy]}</Table.Th>
            <Table.Th ta="right">Requests</Table.Th>
            <Table.Th ta="right">Errors</Table.Th>
            <Table.Th ta="right">Input tokens</Table.Th>
            <Table.Th ta="right">Output tokens</Table.Th>
            <Table.Th ta="right">Cost</Table.Th>
            <Table.Th ta="right">p50</Table.Th>
            <Table.Th ta="right">p95</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r) => (
            <Table.Tr key={r.group_id ?? r.group} data-group={r.group}>
              <Table.Td>
                <Text size="sm" fw={600}>
                  {r.group}
                </Text>
              </Table.Td>
              <Table.Td ta="right">{formatCount(r.requests)}</Table.Td>
              <Table.Td ta="right">{r.errors ? <Text span c="red" size="sm">{formatCount(r.errors)}</Text> : "0"}</Table.Td>
              <Table.Td ta="right">{formatCount(r.input_tokens)}</Table.Td>
              <Table.Td ta="right">{formatCount(r.output_tokens)}</Table.Td>
              <Table.Td ta="right">{formatCost(r.cost_usd)}</Table.Td>
              <Table.Td ta="right">{formatMs(r.latency_ms_p50)}</Table.Td>
              <Table.Td ta="right">{formatMs(r.latency_ms_p95)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function Status({ r }: { r: UsageRecord }) {
  const ok = r.status < 400;
  return (
    <Tooltip label={r.error_code ?? "OK"} openDelay={300}>
      <Badge size="sm" variant="light" color={ok ? "green" : r.status === 499 ? "gray" : "red"}>
        {r.status}
      </Badge>
    </Tooltip>
  );
}

function tokenName(r: UsageRecord): string {
  return r.token === "admin" ? "admin" : (r.token.name ?? "—");
}

export function RecentCalls({ records }: { records: UsageRecord[] }) {
  if (records.length === 0) return <Text size="sm" c="dimmed">No calls in this range.</Text>;
  return (
    <Table.ScrollContainer minWidth={900}>
      <Table className="kh-table" verticalSpacing="xs" highlightOnHover aria-label="Recent calls">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>When</Table.Th>
            <Table.Th>Endpoint</Table.Th>
            <Table.Th>Token</Table.Th>
            <Table.Th>Key · model</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th ta="right">Tokens in / out</Table.Th>
            <Table.Th ta="right">
              <Tooltip label="Prompt tokens written to the provider's prompt cache (part of tokens in)">
                <span>Cache writes</span>
              </Tooltip>
            </Table.Th>
            <Table.Th ta="right">Cost</Table.Th>
            <Table.Th ta="right">Latency</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {records.map((r) => (
            <Table.Tr key={r.id} data-record-id={r.id}>
              <Table.Td>
                <TimeCell iso={r.at} />
              </Table.Td>
              <Table.Td>
                <Group gap={4} wrap="nowrap">
                  <Text size="sm">{r.endpoint.name}</Text>
                  {r.stream && <Badge size="xs" variant="outline" color="gray">stream</Badge>}
                  {r.fallback_used && <Badge size="xs" variant="light" color="orange">fallback</Badge>}
                </Group>
              </Table.Td>
              <Table.Td>{tokenName(r)}</Table.Td>
              <Table.Td>
                <Text size="sm">{r.key?.name ?? "—"}</Text>
                <Text size="xs" c="dimmed">
                  {r.model ?? "—"}
                  {r.attempts > 1 ? ` · ${r.attempts} attempts` : ""}
                </Text>
              </Table.Td>
              <Table.Td>
                <Status r={r} />
              </Table.Td>
              <Table.Td ta="right">
                {formatCount(r.input_tokens)} / {formatCount(r.output_tokens)}
              </Table.Td>
              <Table.Td ta="right">{formatCount(r.cache_write_tokens)}</Table.Td>
              <Table.Td ta="right">{formatCost(r.cost_usd)}</Table.Td>
              <Table.Td ta="right">{formatMs(r.latency_ms)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
