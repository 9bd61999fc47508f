import type { ReactNode } from "react";
import { Group, Text } from "@mantine/core";

/** One "label: value" line of a list card (the narrow-screen form of a table row). */
export function Labelled({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Group gap="xs" align="flex-start" wrap="nowrap">
      <Text size="xs" c="dimmed" w={84} pt={2} style={{ flexShrink: 0 }}>
        {label}
      </Text>
      <div style={{ minWidth: 0, flex: 1 }}>{children}</div>
    </Group>
  );
}
