// The lists' Limits cell: each limit set on a token, endpoint or key with its use now.
import { Progress, Stack, Text, Tooltip } from "@mantine/core";
import { useLimitsUse } from "../api/queries";
import type { LimitsIn, SubjectUse } from "../api/types";
import { findUse, levelColor, limitLines } from "./limitsUse";

interface Props {
  scope: SubjectUse["scope"];
  id: string;
  limits: LimitsIn | null | undefined;
}

export function LimitUse({ scope, id, limits }: Props) {
  // One query shared by every row (TanStack dedupes it), polled while the list is shown.
  const use = useLimitsUse();
  const lines = limitLines(limits, findUse(use.data, scope, id));
  if (lines.length === 0)
    return (
      <Text size="sm" c="dimmed" data-testid="limit-use">
        No limits
      </Text>
    );
  // Per-replica counters (no Redis) or an unreachable store: say whose view this is.
  const caveat = use.data && !use.data.reachable ? "The limit store is unreachable: use unknown." : use.data && !use.data.shared ? "Counted by this server only (no shared store)." : undefined;
  return (
    <Stack gap={6} miw={150} data-testid="limit-use" title={caveat}>
      {lines.map((line) => (
        <div key={line.kind} data-limit={line.kind}>
          <Text size="xs" style={{ whiteSpace: "nowrap" }}>
            {line.text}
          </Text>
          {line.ratio !== null && (
            <Tooltip label={`${Math.round(line.ratio * 100)}% used`} openDelay={300}>
              <Progress
                size="xs"
                mt={2}
                value={Math.min(100, line.ratio * 100)}
                color={levelColor(line.ratio)}
                aria-label={`${line.text}: ${Math.round(line.ratio * 100)}% used`}
              />
            </Tooltip>
          )}
        </div>
      ))}
    </Stack>
  );
}
