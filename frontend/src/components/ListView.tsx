// A list of things as a table on wide windows and as cards on narrow ones, from one
// description of its columns, so both forms always show the same fields.
import type { ReactNode } from "react";
import { Card, Group, Stack, Table, VisuallyHidden } from "@mantine/core";
import { Labelled } from "./Labelled";

export interface Column<T> {
  label: string;
  /** The card's shorter label, when the header's is too long for it. */
  cardLabel?: string;
  /** A data-col attribute on the table cell (tests and styles find the cell by it). */
  col?: string;
  cell: (item: T) => ReactNode;
}

interface Props<T> {
  items: T[];
  /** The list's accessible name: "API keys". */
  label: string;
  narrow: boolean;
  /** Below this width the table scrolls sideways instead of squeezing its cells. */
  minWidth: number;
  /** The first column (and the card's title). */
  name: (item: T) => ReactNode;
  columns: Column<T>[];
  actions: (item: T) => ReactNode;
  /** Attributes of each row or card, keyed by the item's id: data-key-id and the like. */
  itemProps: (item: T) => { key: string } & Record<`data-${string}`, string>;
}

export function ListView<T>({ items, label, narrow, minWidth, name, columns, actions, itemProps }: Props<T>) {
  if (narrow)
    return (
      <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: "none" }} aria-label={label}>
        {items.map((item) => {
          const { key, ...attrs } = itemProps(item);
          return (
            <Card key={key} component="li" withBorder padding="sm" {...attrs}>
              <Group justify="space-between" align="flex-start" wrap="nowrap" mb="xs">
                {name(item)}
                {actions(item)}
              </Group>
              <Stack gap={6}>
                {columns.map((c) => (
                  <Labelled key={c.label} label={c.cardLabel ?? c.label}>
                    {c.cell(item)}
                  </Labelled>
                ))}
              </Stack>
            </Card>
          );
        })}
      </Stack>
    );
  return (
    <Table.ScrollContainer minWidth={minWidth}>
      <Table className="kh-table" verticalSpacing="sm" highlightOnHover aria-label={label}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            {columns.map((c) => (
              <Table.Th key={c.label} style={{ whiteSpace: "nowrap" }}>
                {c.label}
              </Table.Th>
            ))}
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((item) => {
            const { key, ...attrs } = itemProps(item);
            return (
              <Table.Tr key={key} {...attrs}>
                <Table.Td>{name(item)}</Table.Td>
                {columns.map((c) => (
                  <Table.Td key={c.label} data-col={c.col}>
                    {c.cell(item)}
                  </Table.Td>
                ))}
                <Table.Td>{actions(item)}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
