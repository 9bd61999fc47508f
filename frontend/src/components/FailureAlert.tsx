import { Alert } from "@mantine/core";
import { IconAlert } from "./icons";

/** The server's refusal at the top of a form or dialog: one message, or one per line
 * (the field errors no input shows). Nothing when there is none. */
export function FailureAlert({ failure, title }: { failure: string | string[] | null; title?: string }) {
  if (!failure || failure.length === 0) return null;
  const lines = typeof failure === "string" ? [failure] : failure;
  return (
    <Alert color="red" icon={title ? <IconAlert /> : undefined} title={title} role="alert">
      {lines.map((m) => (
        <div key={m}>{m}</div>
      ))}
    </Alert>
  );
}
