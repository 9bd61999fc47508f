// One provider field (secret or config) rendered from its catalog description.
import { Button, FileButton, Group, PasswordInput, Text, TextInput, Textarea } from "@mantine/core";
import type { GetInputPropsReturnType } from "@mantine/form";
import type { FieldView } from "../api/types";

interface Props {
  field: FieldView;
  inputProps: GetInputPropsReturnType;
  /** Edit mode: the masked current value of a secret (secrets are never sent back). */
  masked?: string;
  editing: boolean;
  required: boolean;
  onFile?: (text: string) => void;
  /** Shown as the placeholder of an empty base URL: what "leave empty" means. */
  defaultUrl?: string | null;
}

function description(field: FieldView, masked: string | undefined, editing: boolean) {
  const parts: string[] = [];
  if (field.help) parts.push(field.help);
  if (field.secret && editing) {
    parts.push(masked ? `Current: ${masked} — leave empty to keep the current value.` : "Leave empty to keep the current value.");
  }
  return parts.length ? parts.join(" ") : undefined;
}

export function FieldInput({ field, inputProps, masked, editing, required, onFile, defaultUrl }: Props) {
  const common = {
    label: field.label,
    description: description(field, masked, editing),
    withAsterisk: required,
    "aria-required": required || undefined,
    placeholder: field.placeholder || (field.name === "base_url" && defaultUrl) || undefined,
    spellCheck: false,
    ...inputProps,
  };

  if (field.kind === "json") {
    return (
      <div>
        <Textarea
          {...common}
          placeholder={field.placeholder || '{"type": "service_account", "project_id": "…", "private_key": "…", …}'}
          autosize
          minRows={4}
          maxRows={10}
          autoComplete="off"
          styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)", fontSize: "var(--mantine-font-size-xs)" } }}
        />
        {onFile && (
          <Group gap="xs" mt={6}>
            <FileButton accept="application/json,.json" onChange={(file) => file && file.text().then(onFile)}>
              {(props) => (
                <Button {...props} size="compact-xs" variant="light">
                  Load from a .json file
                </Button>
              )}
            </FileButton>
            <Text size="xs" c="dimmed">
              The file is read in your browser and sent only when you save.
            </Text>
          </Group>
        )}
      </div>
    );
  }
  if (field.secret || field.kind === "password") {
    return <PasswordInput {...common} autoComplete="new-password" visibilityToggleFocusable />;
  }
  return <TextInput {...common} type={field.kind === "url" ? "url" : "text"} autoComplete="off" />;
}
