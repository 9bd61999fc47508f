import { useMemo, useRef, useState } from "react";
import {
  Alert,
  Button,
  Checkbox,
  Divider,
  Group,
  Modal,
  NumberInput,
  Radio,
  Select,
  Stack,
  Text,
  TextInput,
  Textarea,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, errorMessage, fieldErrors } from "../api/errors";
import { qk, useCreateKey, useProviders, useTestKeyChanges, useUpdateKey } from "../api/queries";
import type { KeyUpdate, KeyView, ProviderView, VerifyResult } from "../api/types";
import { focusFirstError } from "../lib/focusError";
import { usePhone } from "../lib/useNarrow";
import { FailureAlert } from "../components/FailureAlert";
import { IconAlert } from "../components/icons";
import { FieldInput } from "./FieldInput";
import { VerifyButton } from "./VerifyButton";
import { CredentialAge } from "./CredentialAge";
import { CredentialHistory } from "./CredentialHistory";
import { LIMIT_PATHS } from "../limits/limitsForm";
import { LimitsEditor } from "../limits/LimitsEditor";
import {
  blocksSave,
  createBody,
  createValues,
  editValues,
  fieldsFor,
  findMethod,
  MAX_ROTATE_DAYS,
  nameError,
  savedMessage,
  testBody,
  updateBody,
  urlChanged,
  validateKey,
  type KeyFormValues,
} from "./keyForm";

type Editing = { mode: "create" } | { mode: "edit"; key: KeyView } | null;

interface Props {
  editing: Editing;
  onClose: () => void;
  existing: KeyView[];
}

export function KeyFormModal({ editing, onClose, existing }: Props) {
  const fullScreen = usePhone();
  // Keep the last content during the close animation.
  const [shown, setShown] = useState<Editing>(editing);
  // After a 412 the user may load the latest version; it replaces the key being edited.
  const [latest, setLatest] = useState<KeyView | null>(null);
  // Outlives the form, which starts afresh when a restore makes a new version.
  const [historyOpen, setHistoryOpen] = useState(false);
  if (editing && editing !== shown) {
    setShown(editing);
    setLatest(null);
    setHistoryOpen(false);
  }
  const current = editing ?? shown;
  const original = current?.mode === "edit" ? (latest ?? current.key) : undefined;
  const title = original ? `Edit API key “${original.name}”` : "Create API key";

  return (
    <Modal opened={editing !== null} onClose={onClose} title={title} size="lg" fullScreen={fullScreen} centered={!fullScreen}>
      {current && (
        <KeyForm
          key={original ? `edit-${original.id}-${original.version}` : "create"}
          original={original}
          existing={existing}
          onDone={onClose}
          onReload={setLatest}
          historyOpen={historyOpen}
          onToggleHistory={() => setHistoryOpen((o) => !o)}
        />
      )}
    </Modal>
  );
}

interface FormProps {
  original?: KeyView;
  existing: KeyView[];
  onDone: () => void;
  onReload: (fresh: KeyView) => void;
  historyOpen: boolean;
  onToggleHistory: () => void;
}

function KeyForm(props: FormProps) {
  const providers = useProviders();
  if (providers.isPending) return <Text size="sm">Loading providers…</Text>;
  if (providers.isError) return <Alert color="red">{providers.error.message}</Alert>;
  return <KeyFormBody providers={providers.data} {...props} />;
}

function KeyFormBody(props: FormProps & { providers: ProviderView[] }) {
  const { providers, original, existing, onDone, onReload } = props;
  const qc = useQueryClient();
  const create = useCreateKey();
  const update = useUpdateKey();
  const test = useTestKeyChanges();
  const [failure, setFailure] = useState<string[] | null>(null);
  const [stale, setStale] = useState(false);
  // Save & test: a changed credential is tried with the provider first; one it does not
  // accept is saved only through the explicit "Save anyway".
  const [testFirst, setTestFirst] = useState(true);
  const [rejected, setRejected] = useState<VerifyResult | null>(null);
  const root = useRef<HTMLFormElement>(null);
  const showErrors = () => focusFirstError(root.current);

  const initial = useMemo<KeyFormValues>(
    () => (original ? editValues(original, findMethod(providers, original.provider, original.auth_method)) : createValues()),
    [original, providers],
  );

  const form = useForm<KeyFormValues>({
    mode: "controlled",
    initialValues: initial,
    validateInputOnChange: ["name"],
    validate: (values) =>
      validateKey(values, findMethod(providers, values.provider, values.auth_method), existing, original),
  });

  const provider = providers.find((p) => p.id === form.values.provider);
  const method = findMethod(providers, form.values.provider, form.values.auth_method);
  const busy = create.isPending || update.isPending || test.isPending;
  const reenter = urlChanged(method, form.values, original);

  function chooseProvider(id: string | null) {
    const p = providers.find((x) => x.id === id);
    const m = p?.auth_methods[0];
    form.setValues({ provider: id ?? "", auth_method: m?.id ?? "", ...fieldsFor(m, form.values) });
    form.clearErrors();
    setFailure(null);
  }

  function chooseMethod(id: string) {
    const m = provider?.auth_methods.find((x) => x.id === id);
    form.setValues({ auth_method: id, ...fieldsFor(m, form.values) });
    form.clearErrors();
  }

  function showServerError(err: unknown) {
    if (err instanceof ApiError && err.status === 412) {
      setStale(true);
      void qc.invalidateQueries({ queryKey: qk.keys });
      showErrors();
      return;
    }
    if (err instanceof ApiError && err.status === 409 && err.code === "already_exists") {
      form.setFieldError("name", err.message);
      showErrors();
      return;
    }
    const fields = fieldErrors(err);
    const known = new Set(Object.keys(form.values.credentials).map((k) => `credentials.${k}`));
    Object.keys(form.values.config).forEach((k) => known.add(`config.${k}`));
    ["name", "description", "provider", "auth_method", "rotate_after_days", ...LIMIT_PATHS].forEach((k) => known.add(k));
    const inline: Record<string, string> = {};
    const loose: string[] = [];
    for (const [path, message] of Object.entries(fields)) {
      if (known.has(path)) inline[path] = message;
      else loose.push(message);
    }
    form.setErrors(inline);
    if (Object.keys(fields).length === 0) loose.push(errorMessage(err));
    setFailure(loose.length ? loose : null);
    showErrors();
  }

  async function save(original: KeyView, body: KeyUpdate, tested: VerifyResult | null) {
    const updated = await update.mutateAsync({ id: original.id, version: original.version, body });
    const message = savedMessage(updated, Boolean(body.credentials));
    notifications.show({ color: "green", message: tested?.status === "ok" ? `${message} ${tested.message}` : message });
    onDone();
  }

  async function saveAnyway() {
    if (!original) return;
    setRejected(null);
    try {
      await save(original, updateBody(form.values, method, original), null);
    } catch (err) {
      showServerError(err);
    }
  }

  async function submit(values: KeyFormValues) {
    setFailure(null);
    setRejected(null);
    try {
      if (!original) {
        const created = await create.mutateAsync(createBody(values, method));
        notifications.show({ color: "green", title: "API key created", message: `“${created.name}” is ready for endpoints.` });
        onDone();
        return;
      }
      const body = updateBody(values, method, original);
      if (Object.keys(body).length === 0) {
        notifications.show({ message: "Nothing changed." });
        onDone();
        return;
      }
      const check = testFirst ? testBody(body) : null;
      const tested = check ? await test.mutateAsync({ id: original.id, body: check }) : null;
      if (tested && blocksSave(tested)) {
        setRejected(tested);
        showErrors();
        return;
      }
      await save(original, body, tested);
    } catch (err) {
      showServerError(err);
    }
  }

  async function loadLatest() {
    await qc.refetchQueries({ queryKey: qk.keys });
    const fresh = qc.getQueryData<KeyView[]>(qk.keys)?.find((k) => k.id === original?.id);
    if (!fresh) {
      notifications.show({ color: "red", message: "This API key no longer exists." });
      onDone();
      return;
    }
    // A new version re-keys this form in the parent, which starts it afresh.
    onReload(fresh);
  }

  const liveNameError = form.values.name ? nameError(form.values.name, existing, original?.id) : null;

  // onSubmit is wrapped so its handlers, which read the form's ref, are made at submit time.
  return (
    <form ref={root} onSubmit={(e) => form.onSubmit(submit, showErrors)(e)} noValidate>
      <Stack gap="md">
        {stale && (
          <Alert color="yellow" icon={<IconAlert />} title="Changed elsewhere" role="alert">
            Someone else saved this key after you opened it. Load the latest version and make your change again.
            <Button size="xs" mt="sm" variant="light" color="yellow" display="block" onClick={loadLatest}>
              Load latest version
            </Button>
          </Alert>
        )}
        {rejected && (
          <Alert color="red" icon={<IconAlert />} title="Not saved: the provider did not accept it" role="alert">
            <Text size="sm">{rejected.message || rejected.status}</Text>
            <Text size="sm" mt={4}>
              The key still uses its current credential. Fix the value and save again, or save it regardless.
            </Text>
            <Button size="xs" mt="sm" variant="light" color="red" onClick={saveAnyway} loading={update.isPending}>
              Save anyway
            </Button>
          </Alert>
        )}
        <FailureAlert failure={failure} title="Could not save" />
        <TextInput
          label="Name"
          withAsterisk
          aria-required
          data-autofocus
          placeholder="openai-prod"
          description="Unique. Letters, digits, '.', '_' and '-'."
          autoComplete="off"
          spellCheck={false}
          {...form.getInputProps("name")}
          error={form.errors.name ?? liveNameError ?? undefined}
        />
        {original ? (
          <Stack gap={2}>
            <Text size="sm" fw={600}>
              Provider
            </Text>
            <Text size="sm">
              {provider?.display_name ?? original.provider}
              {provider && provider.auth_methods.length > 1 && method ? ` · ${method.label}` : ""}
            </Text>
          </Stack>
        ) : (
          <Select
            label="Provider"
            withAsterisk
            aria-required
            placeholder="Choose a provider"
            searchable
            nothingFoundMessage="No provider matches"
            maxDropdownHeight={320}
            data={providers.map((p) => ({ value: p.id, label: p.display_name }))}
            value={form.values.provider || null}
            onChange={chooseProvider}
            error={form.errors.provider}
            allowDeselect={false}
          />
        )}
        {!original && provider && provider.auth_methods.length > 1 && (
          <Radio.Group
            label="Authentication method"
            withAsterisk
            value={form.values.auth_method}
            onChange={chooseMethod}
            error={form.errors.auth_method}
          >
            <Stack gap="xs" mt="xs">
              {provider.auth_methods.map((m) => (
                <Radio key={m.id} value={m.id} label={m.label} />
              ))}
            </Stack>
          </Radio.Group>
        )}
        {method?.ambient && (
          <Alert color="orange" variant="light" title="Keyless: the server's own identity" data-testid="ambient-notice">
            {method.notice}
          </Alert>
        )}
        {method && method.secret_fields.length > 0 && (
          <>
            <Divider label="Credentials" labelPosition="left" />
            {reenter && (
              <Text size="sm" c="var(--mantine-color-orange-text)">
                A URL changed: re-enter the credential so it is never sent to a new address unconfirmed.
              </Text>
            )}
            {original && <CredentialAge k={original} />}
            {method.secret_fields.map((f) => (
              <FieldInput
                key={`${method.id}-${f.name}`}
                field={f}
                inputProps={form.getInputProps(`credentials.${f.name}`)}
                masked={original?.masked[f.name]}
                editing={Boolean(original)}
                required={f.required && (!original || reenter)}
                onFile={(text) => form.setFieldValue(`credentials.${f.name}`, text)}
              />
            ))}
            <NumberInput
              label="Remind me to rotate after (days)"
              description={
                original
                  ? "The key list flags it “Rotation due” once the credential is this old. Clear it to turn the reminder off."
                  : "Optional. The key list flags it “Rotation due” once the credential is this old."
              }
              placeholder="No reminder"
              min={1}
              max={MAX_ROTATE_DAYS}
              allowDecimal={false}
              allowNegative={false}
              clampBehavior="none"
              // A few digits: a short box, while the label and help keep the full width.
              styles={{ wrapper: { maxWidth: 200 } }}
              {...form.getInputProps("rotate_after_days")}
            />
            {original && (
              <CredentialHistory
                k={original}
                fields={method.secret_fields}
                opened={props.historyOpen}
                onToggle={props.onToggleHistory}
                blocked={form.isDirty()}
                onRestored={onReload}
              />
            )}
          </>
        )}
        {method && method.config_fields.length > 0 && (
          <>
            <Divider label="Settings" labelPosition="left" />
            {method.config_fields.map((f) => (
              <FieldInput
                key={`${method.id}-${f.name}`}
                field={f}
                inputProps={form.getInputProps(`config.${f.name}`)}
                editing={Boolean(original)}
                required={f.required}
                defaultUrl={provider?.default_base_url}
              />
            ))}
          </>
        )}
        {(provider || original) && (
          <LimitsEditor inputProps={(p) => form.getInputProps(p)} values={form.values.limits} subject="this key" />
        )}
        {(provider || original) && (
          <Textarea
            label="Description"
            placeholder="What this key is for, who owns it"
            autosize
            minRows={1}
            maxRows={4}
            {...form.getInputProps("description")}
          />
        )}
        {original && testBody(updateBody(form.values, method, original)) && (
          <Checkbox
            label="Test the new credential with the provider before saving"
            checked={testFirst}
            onChange={(e) => setTestFirst(e.currentTarget.checked)}
          />
        )}
        <Group justify="space-between" align="flex-start" gap="sm" mt="xs">
          {original ? <VerifyButton id={original.id} /> : <span />}
          <Group gap="sm" ml="auto" wrap="nowrap">
            <Button variant="default" onClick={onDone} disabled={busy}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} disabled={stale}>
              {!original ? "Create" : testFirst && testBody(updateBody(form.values, method, original)) ? "Save & test" : "Save"}
            </Button>
          </Group>
        </Group>
      </Stack>
    </form>
  );
}
