import { useMemo, useRef, useState } from "react";
import {
  ActionIcon,
  Alert,
  Button,
  Collapse,
  Fieldset,
  Group,
  Input,
  Modal,
  NumberInput,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  TagsInput,
  Text,
  TextInput,
  Textarea,
  Tooltip,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, errorMessage, fieldErrors } from "../api/errors";
import { focusFirstError } from "../lib/focusError";
import { qk, useCreateEndpoint, useKeys, useProviders, useUpdateEndpoint } from "../api/queries";
import type { EndpointView } from "../api/types";
import { usePhone } from "../lib/useNarrow";
import { FailureAlert } from "../components/FailureAlert";
import { IconAlert, IconPlus, IconTrash } from "../components/icons";
import { isLimitsPath } from "../limits/limitsForm";
import { LimitsEditor } from "../limits/LimitsEditor";
import {
  createBody,
  createValues,
  editValues,
  emptyTarget,
  modelHint,
  updateBody,
  validateEndpoint,
  type EndpointFormValues,
  type Role,
  type Task,
} from "./endpointForm";

export type EndpointEditing = { mode: "create" } | { mode: "edit"; endpoint: EndpointView } | null;

interface Props {
  editing: EndpointEditing;
  onClose: () => void;
  existing: EndpointView[];
}

export function EndpointFormModal({ editing, onClose, existing }: Props) {
  const fullScreen = usePhone();
  const [shown, setShown] = useState<EndpointEditing>(editing);
  if (editing && editing !== shown) setShown(editing);
  const current = editing ?? shown;
  const title = current?.mode === "edit" ? `Edit endpoint “${current.endpoint.name}”` : "Create endpoint";
  return (
    <Modal opened={editing !== null} onClose={onClose} title={title} size="xl" fullScreen={fullScreen} centered={!fullScreen}>
      {current && (
        <EndpointForm
          key={current.mode === "edit" ? `edit-${current.endpoint.id}-${current.endpoint.version}` : "create"}
          original={current.mode === "edit" ? current.endpoint : undefined}
          existing={existing}
          onDone={onClose}
        />
      )}
    </Modal>
  );
}

const ADVANCED = ["timeout_seconds", "connect_timeout_seconds", "max_retries"];

const ROLE_OPTIONS = [
  { value: "primary", label: "Primary" },
  { value: "fallback", label: "Fallback" },
];

function EndpointForm({ original, existing, onDone }: { original?: EndpointView; existing: EndpointView[]; onDone: () => void }) {
  const keys = useKeys();
  const providers = useProviders();
  const qc = useQueryClient();
  const create = useCreateEndpoint();
  const update = useUpdateEndpoint();
  const [failure, setFailure] = useState<string[] | null>(null);
  const [advanced, setAdvanced] = useState(false);
  const root = useRef<HTMLFormElement>(null);
  // Errors on the advanced settings must be visible to be focused.
  const showErrors = (errors: Record<string, unknown>) => {
    if (Object.keys(errors).some((k) => ADVANCED.includes(k))) setAdvanced(true);
    focusFirstError(root.current);
  };

  const form = useForm<EndpointFormValues>({
    mode: "controlled",
    initialValues: original ? editValues(original) : createValues(keys.data?.length === 1 ? keys.data[0].id : null),
    validateInputOnChange: ["name"],
    validate: (v) => validateEndpoint(v, existing, original?.id),
  });

  const task = form.values.task;
  const keyOptions = useMemo(() => {
    const serving = (keys.data ?? []).filter((k) => {
      const p = providers.data?.find((x) => x.id === k.provider);
      return !p || p[task];
    });
    return serving.map((k) => ({ value: k.id, label: `${k.name} (${k.provider_display_name})` }));
  }, [keys.data, providers.data, task]);

  const busy = create.isPending || update.isPending;
  const primaries = form.values.targets.filter((t) => t.role === "primary");
  const weightTotal = primaries.reduce((s, t) => s + (Number(t.weight) || 0), 0);

  function providerOf(keyId: string | null): string | undefined {
    return keys.data?.find((k) => k.id === keyId)?.provider;
  }

  async function submit(values: EndpointFormValues) {
    setFailure(null);
    try {
      if (!original) {
        const created = await create.mutateAsync(createBody(values));
        notifications.show({ color: "green", title: "Endpoint created", message: `Call it with model “${created.name}”.` });
      } else {
        const body = updateBody(values, original);
        if (Object.keys(body).length === 0) {
          notifications.show({ message: "Nothing changed." });
        } else {
          await update.mutateAsync({ id: original.id, version: original.version, body });
          notifications.show({ color: "green", message: `Saved “${values.name.trim()}”.` });
        }
      }
      onDone();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.code === "already_exists") {
        const field = /alias/i.test(err.message) && !err.message.startsWith("An endpoint named") ? "aliases" : "name";
        form.setFieldError(field, err.message);
        showErrors({ [field]: err.message });
        return;
      }
      if (err instanceof ApiError && err.status === 412) {
        void qc.invalidateQueries({ queryKey: qk.endpoints });
        setFailure(["Someone else changed this endpoint after you opened it. Close and reopen it to get the latest version."]);
        showErrors({});
        return;
      }
      const fields = fieldErrors(err);
      const inline: Record<string, string> = {};
      const loose: string[] = [];
      for (const [path, message] of Object.entries(fields)) {
        if (/^aliases\.\d+$/.test(path)) inline.aliases = message;
        else if (isLimitsPath(path)) inline[path] = message;
        else if (/^(name|description|task|timeout_seconds|connect_timeout_seconds|max_retries|targets(\.\d+\.(key_id|model|weight|role))?)$/.test(path)) inline[path] = message;
        else loose.push(message);
      }
      form.setErrors(inline);
      if (Object.keys(fields).length === 0) loose.push(errorMessage(err));
      setFailure(loose.length ? loose : null);
      showErrors(inline);
    }
  }

  return (
    <form ref={root} onSubmit={(e) => form.onSubmit(submit, showErrors)(e)} noValidate>
      <Stack gap="md">
        <FailureAlert failure={failure} title="Could not save" />
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput
            label="Name"
            withAsterisk
            aria-required
            data-autofocus
            placeholder="chat-default"
            description="Applications send this as the model."
            autoComplete="off"
            spellCheck={false}
            {...form.getInputProps("name")}
          />
          <Input.Wrapper label="Task" description="What the endpoint serves." id="endpoint-task" labelElement="div">
            <SegmentedControl
              aria-labelledby="endpoint-task-label"
              fullWidth
              mt={4}
              data={[
                { value: "chat", label: "Chat" },
                { value: "embeddings", label: "Embeddings" },
              ]}
              value={task}
              onChange={(v) => form.setFieldValue("task", v as Task)}
            />
          </Input.Wrapper>
        </SimpleGrid>

        <Stack gap="xs">
          <Group justify="space-between" align="flex-end">
            <div>
              <Text fw={600} size="sm">
                Targets
              </Text>
              <Text size="xs" c="dimmed">
                Primary targets share traffic by weight; fallbacks are tried in order when primaries fail.
              </Text>
            </div>
          </Group>
          {form.errors.targets && (
            <Text size="sm" c="red" role="alert">
              {form.errors.targets}
            </Text>
          )}
          {keyOptions.length === 0 && (
            <Alert color="yellow" icon={<IconAlert />}>
              No API key can serve {task}. Create one on the API Keys tab first.
            </Alert>
          )}
          {form.values.targets.map((t, i) => {
            const share = t.role === "primary" && primaries.length > 1 && weightTotal > 0
              ? Math.round(((Number(t.weight) || 0) / weightTotal) * 100)
              : null;
            return (
              <Fieldset key={i} legend={`Target ${i + 1}`} p="sm" data-testid={`target-${i}`}>
                <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm" verticalSpacing="xs">
                  <Select
                    label="API key"
                    withAsterisk
                    placeholder="Choose a key"
                    data={keyOptions}
                    searchable
                    nothingFoundMessage="No key matches"
                    {...form.getInputProps(`targets.${i}.key_id`)}
                  />
                  <TextInput
                    label="Model"
                    withAsterisk
                    placeholder={modelHint(providerOf(t.key_id), task)}
                    description="The provider's model (or Azure deployment) name."
                    autoComplete="off"
                    spellCheck={false}
                    {...form.getInputProps(`targets.${i}.model`)}
                  />
                  <Select
                    label="Role"
                    data={ROLE_OPTIONS}
                    allowDeselect={false}
                    value={t.role}
                    onChange={(v) => form.setFieldValue(`targets.${i}.role`, (v ?? "primary") as Role)}
                  />
                  <Group gap="xs" align="flex-start" wrap="nowrap">
                    <NumberInput
                      label="Weight"
                      min={1}
                      max={100}
                      allowDecimal={false}
                      description={t.role === "fallback" ? "Fallbacks go in list order." : share !== null ? `${share}% of traffic` : "1–100"}
                      style={{ flex: 1 }}
                      {...form.getInputProps(`targets.${i}.weight`)}
                    />
                    <Tooltip label="Remove target">
                      <ActionIcon
                        variant="subtle"
                        color="red"
                        mt={26}
                        size="lg"
                        aria-label={`Remove target ${i + 1}`}
                        disabled={form.values.targets.length === 1}
                        onClick={() => form.removeListItem("targets", i)}
                      >
                        <IconTrash />
                      </ActionIcon>
                    </Tooltip>
                  </Group>
                </SimpleGrid>
              </Fieldset>
            );
          })}
          <Group>
            <Button
              variant="light"
              size="xs"
              leftSection={<IconPlus size={14} />}
              onClick={() => form.insertListItem("targets", emptyTarget(form.values.targets.length ? "fallback" : "primary"))}
            >
              Add target
            </Button>
          </Group>
        </Stack>

        <TagsInput
          label="Aliases"
          description="Other model names this endpoint answers to, e.g. an agent's built-in model (claude-sonnet-4-5, gpt-5-codex). Press Enter after each."
          placeholder="claude-sonnet-4-5"
          splitChars={[",", " "]}
          clearable
          {...form.getInputProps("aliases")}
        />

        <Textarea label="Description" autosize minRows={1} maxRows={4} placeholder="Who calls it, for what" {...form.getInputProps("description")} />

        <LimitsEditor inputProps={(p) => form.getInputProps(p)} values={form.values.limits} subject="this endpoint" />

        <div>
          <Button variant="subtle" size="compact-sm" onClick={() => setAdvanced((a) => !a)} aria-expanded={advanced}>
            {advanced ? "Hide advanced settings" : "Advanced settings"}
          </Button>
          <Collapse expanded={advanced}>
            <SimpleGrid cols={{ base: 1, sm: 3 }} mt="xs">
              <NumberInput label="Timeout (seconds)" description="Whole request, up to 600." min={1} max={600} placeholder="60" {...form.getInputProps("timeout_seconds")} />
              <NumberInput label="Connect timeout (seconds)" description="Up to 60." min={1} max={60} placeholder="5" {...form.getInputProps("connect_timeout_seconds")} />
              <NumberInput label="Retries per target" description="0 to 5." min={0} max={5} allowDecimal={false} placeholder="1" {...form.getInputProps("max_retries")} />
            </SimpleGrid>
          </Collapse>
        </div>

        <Group justify="flex-end" gap="sm">
          <Button variant="default" onClick={onDone} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" loading={busy}>
            {original ? "Save" : "Create"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
