import { Text, Tooltip } from "@mantine/core";
import { formatDateTime, formatRelative } from "../lib/format";

/** A relative time ("3 hours ago") with the exact time on hover and for screen readers. */
export function TimeCell({ iso }: { iso: string | null | undefined }) {
  const exact = formatDateTime(iso);
  return (
    <Tooltip label={exact} openDelay={300}>
      <Text component="time" dateTime={iso ?? undefined} size="sm" title={undefined} style={{ whiteSpace: "nowrap" }}>
        {formatRelative(iso)}
      </Text>
    </Tooltip>
  );
}
