// The limits fieldset of the token, endpoint and key forms. The form owns the values
// (under `limits`, in the API's shape); this only lays the inputs out.
import { Fieldset, NumberInput, Select, SimpleGrid, Text } from "@mantine/core";
import type { GetInputPropsReturnType } from "@mantine/form";
import { ACTIONS, MAX_CONCURRENT, MAX_PER_MINUTE, MAX_USD, PERIODS, type LimitsValues } from "./limitsForm";

interface Props {
  /** The form's getInputProps, for the paths in LIMIT_PATHS. */
  inputProps: (path: string) => GetInputPropsReturnType;
  values: LimitsValues;
  /** What the limits apply to, for the help line: "this token", "this endpoint". */
  subject: string;
}

// Numbers only: no decimals where the server wants whole numbers, no clamping, so an
// out-of-range value stays visible with its error instead of changing silently.
const whole = { allowDecimal: false, allowNegative: false, clampBehavior: "none", thousandSeparator: "," } as const;

export function LimitsEditor({ inputProps, values, subject }: Props) {
  const hasBudget = values.budget.usd !== "";
  return (
    <Fieldset legend="Limits and budget" p="sm" data-testid="limits-editor">
      <Text size="xs" c="dimmed" mb="xs">
        Calls through {subject} over a limit are refused with 429. Leave a box empty for no limit.
      </Text>
      <SimpleGrid cols={{ base: 1, xs: 3 }} spacing="sm" verticalSpacing="xs">
        <NumberInput label="Requests per minute" placeholder="No limit" min={1} max={MAX_PER_MINUTE} {...whole} {...inputProps("limits.requests_per_minute")} />
        <NumberInput label="Tokens per minute" placeholder="No limit" min={1} max={MAX_PER_MINUTE} {...whole} {...inputProps("limits.tokens_per_minute")} />
        <NumberInput label="Concurrent calls" placeholder="No limit" min={1} max={MAX_CONCURRENT} {...whole} {...inputProps("limits.max_concurrent")} />
        <NumberInput
          label="Budget (USD)"
          placeholder="No budget"
          prefix="$"
          min={0}
          max={MAX_USD}
          allowNegative={false}
          clampBehavior="none"
          thousandSeparator=","
          {...inputProps("limits.budget.usd")}
        />
        <Select label="Budget period" data={PERIODS} allowDeselect={false} disabled={!hasBudget} {...inputProps("limits.budget.period")} />
        <Select
          label="When it is spent"
          data={ACTIONS}
          allowDeselect={false}
          disabled={!hasBudget}
          {...inputProps("limits.budget.action")}
        />
      </SimpleGrid>
    </Fieldset>
  );
}
