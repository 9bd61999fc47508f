// "Test stored credential": the server calls the provider with the saved secret.
import { Button, Stack, Text } from "@mantine/core";
import { errorMessage } from "../api/errors";
import { useVerifyKey } from "../api/queries";

const COLORS: Record<string, string> = { ok: "teal.8", rejected: "red.8", unreachable: "orange.8", error: "red.8" };

export function VerifyButton({ id }: { id: string }) {
  const verify = useVerifyKey();
  const result = verify.data;
  const text = result ? result.message || result.status : verify.isError ? errorMessage(verify.error) : "";
  return (
    <Stack gap={4} align="flex-start" style={{ flex: "1 1 220px", minWidth: 0 }}>
      <Button variant="light" color="gray" onClick={() => verify.mutate(id)} loading={verify.isPending}>
        Test stored credential
      </Button>
      <Text size="xs" role="status" c={result ? (COLORS[result.status] ?? "dimmed") : "red.8"}>
        {text}
      </Text>
    </Stack>
  );
}
