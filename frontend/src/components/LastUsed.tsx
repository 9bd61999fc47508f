import { Text } from "@mantine/core";
import { plural } from "../lib/format";
import { TimeCell } from "./TimeCell";

interface Used {
  last_used_at?: string | null;
  usage_7d?: { requests?: number } | null;
}

/** When a key or token last served a call, and its calls over the last 7 days. */
export function LastUsed({ item }: { item: Used }) {
  if (!item.last_used_at)
    return (
      <Text size="sm" c="dimmed">
        Never
      </Text>
    );
  return (
    <div>
      <TimeCell iso={item.last_used_at} />
      {item.usage_7d && (
        <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
          {plural(item.usage_7d.requests ?? 0, "call", "calls")} in 7 days
        </Text>
      )}
    </div>
  );
}
