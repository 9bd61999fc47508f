// Create or edit an access token: name, what it may call, expiry and limits. A created
// token's secret is shown once, in the same dialog.
import { useRef, useState } from "react";
import { Button, Group, Modal, MultiSelect, Radio, Select, SimpleGrid, Stack, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import { errorMessage, fieldErrors } from "../api/errors";
import { useCreateAccessToken, useEndpoints, useUpdateAccessToken } from "../api/queries";
import type { AccessTokenCreated, AccessTokenView } from "../api/types";
import { FailureAlert } from "../components/FailureAlert";
import { useLastShown } from "../components/ConfirmModal";
import { LimitsEditor } from "../limits/LimitsEditor";
import { focusFirstError } from "../lib/focusError";
import { usePhone } from "../lib/useNarrow";
import { ShowSecret } from "./ShowSecret";
import {
  createBody,
  createValues,
  editValues,
  EXPIRY_OPTIONS,
  formPath,
  localDate,
  updateBody,
  validateToken,
  type Expiry,
  type TokenFormValues,
} from "./tokenForm";

export type TokenEditing = { mode: "create" } | { mode: "edit"; token: AccessTokenView } | null;

export function TokenFormModal({ editing, onClose }: { editing: TokenEditing; onClose: () => void }) {
  const fullScreen = usePhone();
  const current = useLastShown(editing);
  const [created, setCreated] = useState<AccessTokenCreated | null>(null);
  const close = () => {
    setCreated(null);
    onClose();
  };
  const original = current?.mode === "edit" ? current.token : undefined;
  const title = created ? "Access token created" : original ? `Edit access token “${original.name}”` : "Create access token";
  return (
    <Modal
      opened={editing !== null}
      onClose={close}
      title={title}
      size="lg"
      fullScreen={fullScreen}
      centered={!fullScreen}
      // The secret is shown only here: an outside click must not throw it away.
      closeOnClickOutside={!created}
    >
      {created ? (
        <ShowSecret created={created} onDone={close} />
      ) : (
        editing && (
          <TokenForm key={original ? `edit-${original.id}` : "create"} original={original} onCreated={setCreated} onDone={close} />
        )
      )}
    </Modal>
  );
}

interface FormProps {
  original?: AccessTokenView;
  onCreated: (t: AccessTokenCreated) => void;
  onDone: () => void;
}

function TokenForm({ original, onCreated, onDone }: FormProps) {
  const endpoints = useEndpoints();
  const create = useCreateAccessToken();
  const update = useUpdateAccessToken();
  const [failure, setFailure] = useState<string[] | null>(null);
  const root = useRef<HTMLFormElement>(null);
  const form = useForm<TokenFormValues>({
    mode: "controlled",
    initialValues: original ? editValues(original) : createValues(),
    validate: (v) => validateToken(v),
  });
  const busy = create.isPending || update.isPending;

  async function submit(values: TokenFormValues) {
    setFailure(null);
    try {
      if (!original) {
        onCreated(await create.mutateAsync(createBody(values)));
        return;
      }
      const body = updateBody(values, original);
      if (Object.keys(body).length === 0) notifications.show({ message: "Nothing changed." });
      else {
        await update.mutateAsync({ id: original.id, body });
        notifications.show({ color: "green", message: `Saved “${values.name.trim()}”.` });
      }
      onDone();
    } catch (err) {
      const inline: Record<string, string> = {};
      const loose: string[] = [];
      for (const [path, message] of Object.entries(fieldErrors(err))) {
        const at = formPath(path, values);
        if (at) inline[at] ??= message;
        else loose.push(message);
      }
      form.setErrors(inline);
      if (Object.keys(inline).length === 0 && loose.length === 0) loose.push(errorMessage(err));
      setFailure(loose.length ? loose : null);
      focusFirstError(root.current);
    }
  }

  const names = (endpoints.data ?? []).map((e) => e.name);
  return (
    <form ref={root} onSubmit={(e) => form.onSubmit(submit, () => focusFirstError(root.current))(e)} noValidate>
      <Stack gap="md">
        <FailureAlert failure={failure} title="Could not save" />
        <TextInput
          label="Name"
          description="Who uses it, e.g. the application's name."
          placeholder="my-app"
          withAsterisk
          data-autofocus
          autoComplete="off"
          spellCheck={false}
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
        <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="sm">
          <Select
            label="Expires"
            description="Once expired, the token gets 401."
            data={EXPIRY_OPTIONS}
            allowDeselect={false}
            {...form.getInputProps("expiry")}
            onChange={(v) => form.setFieldValue("expiry", (v ?? "never") as Expiry)}
          />
          {form.values.expiry === "date" && (
            <TextInput
              type="date"
              label="Last day it works"
              description="It expires at the end of this day, your time."
              min={localDate(new Date())}
              withAsterisk
              {...form.getInputProps("expiry_date")}
            />
          )}
        </SimpleGrid>
        <LimitsEditor inputProps={(p) => form.getInputProps(p)} values={form.values.limits} subject="this token" />
        <Group justify="flex-end" gap="sm">
          <Button variant="default" onClick={onDone} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" loading={busy}>
            {original ? "Save" : "Create token"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
