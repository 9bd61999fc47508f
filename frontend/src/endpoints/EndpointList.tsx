// The endpoints as a table (wide windows) or as cards (phones).
import type { Ref } from "react";
import {
  Badge,
  Button,
  Card,
  Group,
  Stack,
  Table,
  Text,
  VisuallyHidden,
} from "@mantine/core";
import type { EndpointView, ProviderView, TargetView } from "../api/types";
import { IconPlay } from "../components/icons";
import { RowActions } from "../components/RowActions";
import { TimeCell } from "../components/TimeCell";
import { LimitUse } from "../limits/LimitUse";

export interface EndpointListProps {
  endpoints: EndpointView[];
  providers: ProviderView[] | undefined;
  highlighted: string | null;
  highlightRef: Ref<HTMLElement>;
  onTry: (e: EndpointView) => void;
  onEdit: (e: EndpointView) => void;
  onDelete: (e: EndpointView) => void;
}

function TargetLine({ t, providers, share }: { t: TargetView; providers: ProviderView[] | undefined; share: number | null }) {
  const provider = providers?.find((p) => p.id === t.provider)?.display_name ?? t.provider ?? "—";
  return (
    <Group gap={6} wrap="nowrap" align="flex-start" component="li">
      <Badge size="xs" mt={3} variant={t.role === "primary" ? "light" : "outline"} color={t.role === "primary" ? "indigo" : "gray"}>
        {t.role}
      </Badge>
      <div style={{ minWidth: 0 }}>
        <Text size="sm" style={{ wordBreak: "break-word" }}>
          {provider} / <span className="kh-mono">{t.model}</span> /{" "}
          {t.key_name ? (
            <b>{t.key_name}</b>
          ) : (
            <Text span c="red" size="sm" fw={600}>
              no key (answers 503)
            </Text>
          )}
        </Text>
        <Text size="xs" c="dimmed">
          weight {t.weight}
          {share !== null ? ` · ${share}% of traffic` : ""}
        </Text>
      </div>
    </Group>
  );
}

function Targets({ e, providers }: { e: EndpointView; providers: ProviderView[] | undefined }) {
  const primaries = e.targets.filter((t) => t.role === "primary");
  const total = primaries.reduce((s, t) => s + t.weight, 0);
  return (
    <Stack gap={6} component="ul" p={0} m={0} style={{ listStyle: "none" }} aria-label={`Targets of ${e.name}`}>
      {e.targets.map((t, i) => (
        <TargetLine
          key={i}
          t={t}
          providers={providers}
          share={t.role === "primary" && primaries.length > 1 && total > 0 ? Math.round((t.weight / total) * 100) : null}
        />
      ))}
    </Stack>
  );
}

function TaskBadge({ task }: { task: string }) {
  return (
    <Badge variant="light" color={task === "chat" ? "teal" : "grape"}>
      {task}
    </Badge>
  );
}

function Name({ e }: { e: EndpointView }) {
  return (
    <div>
      <Text fw={600} size="sm" className="kh-mono" miw={140} style={{ overflowWrap: "break-word" }}>
        {e.name}
      </Text>
      {(e.aliases ?? []).length > 0 && (
        <Text size="xs" c="dimmed" className="kh-mono" aria-label={`Aliases of ${e.name}`} style={{ overflowWrap: "break-word" }}>
          also {(e.aliases ?? []).join(", ")}
        </Text>
      )}
      {e.description && (
        <Text size="xs" c="dimmed" lineClamp={2}>
          {e.description}
        </Text>
      )}
    </div>
  );
}

function Actions({ e, onTry, onEdit, onDelete }: { e: EndpointView; onTry: () => void; onEdit: () => void; onDelete: () => void }) {
  return (
    <RowActions name={e.name} onEdit={onEdit} onDelete={onDelete}>
      {e.task === "chat" && (
        <Button size="compact-sm" variant="light" leftSection={<IconPlay size={14} />} onClick={onTry} aria-label={`Try it: ${e.name}`}>
          Try it
        </Button>
      )}
    </RowActions>
  );
}

function rowProps<T extends HTMLElement>(e: EndpointView, highlighted: string | null, ref: Ref<T>) {
  const on = e.id === highlighted;
  return {
    ref: on ? ref : undefined,
    tabIndex: on ? -1 : undefined,
    className: on ? "kh-row-highlight" : undefined,
    "aria-current": on ? ("true" as const) : undefined,
    "data-endpoint-id": e.id,
  };
}

export function EndpointTable({ endpoints, providers, highlighted, highlightRef, onTry, onEdit, onDelete }: EndpointListProps) {
  return (
    <Table.ScrollContainer minWidth={1000}>
      <Table className="kh-table" verticalSpacing="sm" highlightOnHover aria-label="Endpoints">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Task</Table.Th>
            <Table.Th>Targets</Table.Th>
            <Table.Th>Limits</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {endpoints.map((e) => (
            <Table.Tr key={e.id} {...rowProps(e, highlighted, highlightRef as Ref<HTMLTableRowElement>)}>
              <Table.Td>
                <Name e={e} />
              </Table.Td>
              <Table.Td>
                <TaskBadge task={e.task} />
              </Table.Td>
              <Table.Td>
                <Targets e={e} providers={providers} />
              </Table.Td>
              <Table.Td data-col="limits">
                <LimitUse scope="endpoint" id={e.id} limits={e.limits} />
              </Table.Td>
              <Table.Td>
                <TimeCell iso={e.created_at} />
              </Table.Td>
              <Table.Td>
                <Actions e={e} onTry={() => onTry(e)} onEdit={() => onEdit(e)} onDelete={() => onDelete(e)} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function EndpointCards({ endpoints, providers, highlighted, highlightRef, onTry, onEdit, onDelete }: EndpointListProps) {
  return (
    <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: "none" }} aria-label="Endpoints">
      {endpoints.map((e) => (
        <Card key={e.id} component="li" withBorder padding="sm" {...rowProps(e, highlighted, highlightRef as Ref<HTMLLIElement>)}>
          <Group justify="space-between" align="flex-start" wrap="nowrap" mb="xs">
            <Name e={e} />
            <TaskBadge task={e.task} />
          </Group>
          <Targets e={e} providers={providers} />
          {e.limits && (
            <Group gap="xs" mt="sm" align="flex-start" wrap="nowrap">
              <Text size="xs" c="dimmed" pt={2}>
                Limits
              </Text>
              <LimitUse scope="endpoint" id={e.id} limits={e.limits} />
            </Group>
          )}
          <Group justify="space-between" mt="sm" wrap="nowrap">
            <Text size="xs" c="dimmed" component="div">
              Created <TimeCell iso={e.created_at} />
            </Text>
            <Actions e={e} onTry={() => onTry(e)} onEdit={() => onEdit(e)} onDelete={() => onDelete(e)} />
          </Group>
        </Card>
      ))}
    </Stack>
  );
}
