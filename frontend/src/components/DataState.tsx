// Loading and error placeholders shared by both tabs.
import { Alert, Button, Skeleton, Stack } from "@mantine/core";
import { IconAlert } from "./icons";

export function TableSkeleton() {
  return (
    <Stack gap="xs" aria-busy="true" aria-label="Loading">
      {[0, 1, 2].map((i) => (
        <Skeleton key={i} h={44} />
      ))}
    </Stack>
  );
}

export function LoadError({ error, retry }: { error: Error; retry: () => void }) {
  return (
    <Alert color="red" icon={<IconAlert />} title="Could not load" role="alert">
      {error.message}
      <Button size="xs" variant="light" color="red" mt="sm" display="block" onClick={retry}>
        Try again
      </Button>
    </Alert>
  );
}
