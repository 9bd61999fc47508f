// How the kept credential versions are laid out: a table, or small blocks on phones.
// Masks and dates only; the server never sends a secret.
import type { ReactNode } from "react";
import { Badge, Box, Code, Group, Stack, Table, Text, VisuallyHidden } from "@mantine/core";
import type { CredentialVersion, FieldView } from "../api/types";
import { TimeCell } from "../components/TimeCell";

export interface RowsProps {
  rows: CredentialVersion[];
  fields: FieldView[];
  /** The version a restore is being confirmed for: its row stays marked meanwhile. */
  asking: number | null;
  action: (r: CredentialVersion) => ReactNode;
}

function VersionNumber({ r }: { r: CredentialVersion }) {
  return (
    <Group gap={6} wrap="nowrap">
      <Text size="sm" fw={r.current ? 600 : undefined}>
        {r.version}
      </Text>
      {r.current && (
        <Badge size="xs" color="teal" variant="light">
          Current
        </Badge>
      )}
    </Group>
  );
}

function Replaced({ r }: { r: CredentialVersion }) {
  return r.replaced_at ? <TimeCell iso={r.replaced_at} /> : <Text size="sm" c="dimmed">—</Text>;
}

export function VersionTable({ rows, fields, asking, action }: RowsProps) {
  return (
    <Table.ScrollContainer minWidth={480} type="native">
      <Table aria-label="Credential history" verticalSpacing={6} horizontalSpacing="xs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Version</Table.Th>
            <Table.Th>Credential</Table.Th>
            <Table.Th>Set</Table.Th>
            <Table.Th>Replaced</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r) => (
            <Table.Tr key={r.version} data-version={r.version} bg={asking === r.version ? "var(--mantine-color-yellow-light)" : undefined}>
              <Table.Td>
                <VersionNumber r={r} />
              </Table.Td>
              <Table.Td>
                <Masks masked={r.masked} fields={fields} />
              </Table.Td>
              <Table.Td>
                <TimeCell iso={r.created_at} />
              </Table.Td>
              <Table.Td>
                <Replaced r={r} />
              </Table.Td>
              <Table.Td style={{ textAlign: "right" }}>{action(r)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** Phones: one small block per version instead of a table that would scroll sideways. */
export function VersionCards({ rows, fields, asking, action }: RowsProps) {
  return (
    <Stack gap={0} component="ul" p={0} m={0} style={{ listStyle: "none" }} aria-label="Credential history">
      {rows.map((r) => (
        <Box
          key={r.version}
          component="li"
          data-version={r.version}
          py="xs"
          px={6}
          bg={asking === r.version ? "var(--mantine-color-yellow-light)" : undefined}
          style={{ borderTop: "1px solid var(--mantine-color-gray-3)" }}
        >
          <Group justify="space-between" wrap="nowrap" align="flex-start">
            <Stack gap={4} style={{ minWidth: 0 }}>
              <Group gap="xs">
                <Text size="xs" c="dimmed">
                  Version
                </Text>
                <VersionNumber r={r} />
              </Group>
              <Masks masked={r.masked} fields={fields} />
              <Group gap={4} wrap="wrap">
                <Text size="xs" c="dimmed">
                  Set
                </Text>
                <TimeCell iso={r.created_at} />
                {r.replaced_at && (
                  <>
                    <Text size="xs" c="dimmed" ml={6}>
                      replaced
                    </Text>
                    <Replaced r={r} />
                  </>
                )}
              </Group>
            </Stack>
            {action(r)}
          </Group>
        </Box>
      ))}
    </Stack>
  );
}

function Masks({ masked, fields }: { masked: Record<string, string>; fields: FieldView[] }) {
  const entries = Object.entries(masked);
  if (entries.length === 0) return <Text size="sm" c="dimmed">No secret</Text>;
  return (
    <Stack gap={2}>
      {entries.map(([name, mask]) => {
        const label = fields.find((f) => f.name === name)?.label ?? name;
        return (
          <Group key={name} gap={6} wrap="nowrap">
            {entries.length > 1 && (
              <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
                {label}
              </Text>
            )}
            <Code title={`${label} (masked)`} style={{ whiteSpace: "nowrap" }}>
              {mask}
            </Code>
          </Group>
        );
      })}
    </Stack>
  );
}
