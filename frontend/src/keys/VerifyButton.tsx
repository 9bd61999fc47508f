// "Test stored credential": the server calls the provider with the saved secret.
import { Button, Stack, Text } from "@mantine/core";
import { errorMessage } from "../api/errors";
import { useVerifyKey } from "../api/queries";

// The "-text" variables read well on light and on dark backgrounds.
const COLORS: Record<string, string> = {
  ok: "var(--mantine-color-teal-text)",
  rejected: "var(--mantine-color-red-text)",
  unreachable: "var(--mantine-color-orange-text)",
  error: "var(--mantine-color-red-text)",
};

export function VerifyButton({ id }: { id: string }) {
  const verify = useVerifyKey();
  const result = verify.data;
  const text = result ? result.message || result.status : verify.isError ? errorMessage(verify.error) : "";
  return (
    <Stack gap={4} align="flex-start" style={{ flex: "1 1 220px", minWidth: 0 }}>
      <Button variant="light" color="gray" onClick={() => verify.mutate(id)} loading={verify.isPending}>
        Test stored credential
      </Button>
      <Text size="xs" role="status" c={result ? (COLORS[result.status] ?? "dimmed") : "var(--mantine-color-red-text)"}>
        {text}
      </Text>
    </Stack>
  );
}
