import { useRef, useState } from "react";
import {
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  MultiSelect,
  Radio,
  Stack,
  Text,
  TextInput,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { errorMessage, fieldErrors } from "../api/errors";
import { useCreateAccessToken, useEndpoints } from "../api/queries";
import type { AccessTokenCreated } from "../api/types";
import { IconAlert, IconCheck } from "../components/icons";
import { focusFirstError } from "../lib/focusError";
import { createBody, createValues, formPath, pythonSample, validateToken, type TokenFormValues } from "./tokenForm";

export function CreateTokenModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const [created, setCreated] = useState<AccessTokenCreated | null>(null);
  const close = () => {
    setCreated(null);
    onClose();
  };
  return (
    <Modal
      opened={opened}
      onClose={close}
      title={created ? "Access token created" : "Create access token"}
      size="lg"
      // The secret is shown only here: an outside click must not throw it away.
      closeOnClickOutside={!created}
    >
      {created ? <ShowOnce created={created} onDone={close} /> : opened && <CreateForm onCreated={setCreated} onCancel={close} />}
    </Modal>
  );
}

function CreateForm({ onCreated, onCancel }: { onCreated: (t: AccessTokenCreated) => void; onCancel: () => void }) {
  const endpoints = useEndpoints();
  const create = useCreateAccessToken();
  const [failure, setFailure] = useState<string | null>(null);
  const root = useRef<HTMLFormElement>(null);
  const form = useForm<TokenFormValues>({ mode: "controlled", initialValues: createValues(), validate: validateToken });

  async function submit(values: TokenFormValues) {
    setFailure(null);
    try {
      onCreated(await create.mutateAsync(createBody(values)));
    } catch (err) {
      const inline: Record<string, string> = {};
      for (const [path, message] of Object.entries(fieldErrors(err))) inline[formPath(path)] ??= message;
      form.setErrors(inline);
      if (Object.keys(inline).length === 0) setFailure(errorMessage(err));
      focusFirstError(root.current);
    }
  }

  const names = (endpoints.data ?? []).map((e) => e.name);
  return (
    <form ref={root} onSubmit={(e) => form.onSubmit(submit, () => focusFirstError(root.current))(e)} noValidate>
      <Stack gap="md">
        {failure && (
          <Alert color="red" icon={<IconAlert />} role="alert">
            {failure}
          </Alert>
        )}
        <TextInput
          label="Name"
          description="Who uses it, e.g. the application's name."
          placeholder="my-app"
          withAsterisk
          data-autofocus
          {...form.getInputProps("name")}
        />
        <Radio.Group label="May call" {...form.getInputProps("scope")}>
          <Stack gap={6} mt={6}>
            <Radio value="all" label="All endpoints, including ones created later" />
            <Radio value="some" label="Only the endpoints chosen below" />
          </Stack>
        </Radio.Group>
        {form.values.scope === "some" && (
          <MultiSelect
            label="Endpoints"
            placeholder={names.length ? "Choose endpoints" : "No endpoints yet"}
            data={names}
            searchable
            withAsterisk
            {...form.getInputProps("endpoints")}
          />
        )}
        <Group justify="flex-end" gap="sm">
          <Button variant="default" onClick={onCancel} disabled={create.isPending}>
            Cancel
          </Button>
          <Button type="submit" loading={create.isPending}>
            Create token
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function ShowOnce({ created, onDone }: { created: AccessTokenCreated; onDone: () => void }) {
  const endpoint = created.endpoints?.[0] ?? "<endpoint name>";
  return (
    <Stack gap="md">
      <Alert color="yellow" icon={<IconAlert />} title="Copy it now">
        This is the only time the token is shown; Keyhouse keeps only its hash. If you lose it, revoke it and
        create another.
      </Alert>
      <Group gap="xs" wrap="nowrap" align="center">
        <Code data-testid="new-token" style={{ flex: 1, wordBreak: "break-all", fontSize: "var(--mantine-font-size-sm)" }}>
          {created.token}
        </Code>
        <CopyButton value={created.token}>
          {({ copied, copy }) => (
            <Button
              variant={copied ? "light" : "filled"}
              color={copied ? "teal" : undefined}
              leftSection={copied ? <IconCheck size={16} /> : undefined}
              onClick={copy}
            >
              {copied ? "Copied" : "Copy token"}
            </Button>
          )}
        </CopyButton>
      </Group>
      <div>
        <Text size="sm" fw={500} mb={4}>
          Use it from your code
        </Text>
        <Code block style={{ overflowX: "auto" }}>
          {pythonSample(window.location.origin, created.token, endpoint)}
        </Code>
      </div>
      <Group justify="flex-end">
        <Button onClick={onDone}>Done</Button>
      </Group>
    </Stack>
  );
}
