// The Edit dialog's "Credential history": the key's kept credentials (masks and dates
// only; the server never sends a secret) and a confirmed restore of an earlier one.
import { useEffect, useId, useRef, useState } from "react";
import { Alert, Button, Collapse, Group, Stack, Text, UnstyledButton } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { errorMessage } from "../api/errors";
import { useKeyVersions, useRollbackKey } from "../api/queries";
import type { CredentialVersion, FieldView, KeyView } from "../api/types";
import { plural } from "../lib/format";
import { usePhone } from "../lib/useNarrow";
import { IconAlert, IconChevronRight, IconRestore } from "../components/icons";
import { restoredMessage } from "./keyForm";
import { VersionCards, VersionTable } from "./CredentialVersions";

interface Props {
  k: KeyView;
  /** The method's secret fields, for labelling masks when there are several. */
  fields: FieldView[];
  opened: boolean;
  onToggle: () => void;
  /** Unsaved edits in the form: a restore would discard them, so it waits. */
  blocked: boolean;
  onRestored: (fresh: KeyView) => void;
}

export function CredentialHistory({ k, fields, opened, onToggle, blocked, onRestored }: Props) {
  const versions = useKeyVersions(k.id);
  const panelId = useId();
  const count = versions.data?.length;
  return (
    <Stack gap="xs">
      <UnstyledButton
        onClick={onToggle}
        aria-expanded={opened}
        aria-controls={panelId}
        className="kh-disclosure"
      >
        <Group gap={6} wrap="nowrap">
          <IconChevronRight size={16} className="kh-chevron" data-open={opened || undefined} />
          <Text size="sm" fw={600} component="span">
            Credential history
          </Text>
          {count !== undefined && (
            <Text size="xs" c="dimmed" component="span">
              {plural(count, "version", "versions")}
            </Text>
          )}
        </Group>
      </UnstyledButton>
      <Collapse expanded={opened} id={panelId} keepMounted={false}>
        {versions.isPending ? (
          <Text size="sm" c="dimmed">
            Loading…
          </Text>
        ) : versions.isError ? (
          <Alert color="red" icon={<IconAlert />}>
            {versions.error.message}
          </Alert>
        ) : (
          <HistoryBody k={k} rows={versions.data} fields={fields} blocked={blocked} onRestored={onRestored} />
        )}
      </Collapse>
    </Stack>
  );
}

interface BodyProps {
  k: KeyView;
  rows: CredentialVersion[];
  fields: FieldView[];
  blocked: boolean;
  onRestored: (fresh: KeyView) => void;
}

function HistoryBody({ k, rows, fields, blocked, onRestored }: BodyProps) {
  const rollback = useRollbackKey();
  const [asking, setAsking] = useState<number | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const hasEarlier = rows.some((r) => !r.current);
  const phone = usePhone();

  async function restore(version: number) {
    setFailure(null);
    try {
      const fresh = await rollback.mutateAsync({ id: k.id, version });
      notifications.show({ color: "green", title: "Credential restored", message: restoredMessage(version, fresh) });
      setAsking(null);
      onRestored(fresh);
    } catch (err) {
      setFailure(errorMessage(err));
    }
  }

  const restoreButton = (r: CredentialVersion) =>
    r.current ? null : (
      <Button
        size="compact-sm"
        variant="light"
        leftSection={<IconRestore size={14} />}
        aria-label={`Restore version ${r.version}`}
        disabled={blocked || rollback.isPending}
        onClick={() => {
          setFailure(null);
          setAsking(r.version);
        }}
      >
        Restore
      </Button>
    );

  return (
    <Stack gap="xs" pt={4}>
      {phone ? (
        <VersionCards rows={rows} fields={fields} asking={asking} action={restoreButton} />
      ) : (
        <VersionTable rows={rows} fields={fields} asking={asking} action={restoreButton} />
      )}
      {blocked && hasEarlier && (
        <Text size="xs" c="dimmed">
          Save or cancel your changes first to restore an earlier credential.
        </Text>
      )}
      {!hasEarlier && (
        <Text size="xs" c="dimmed">
          No earlier credential yet. When you save a new secret, the previous one is kept here (the last 5).
        </Text>
      )}
      {asking !== null && !blocked && (
        <ConfirmRestore
          version={asking}
          endpoints={k.endpoints.length}
          busy={rollback.isPending}
          onCancel={() => setAsking(null)}
          onConfirm={() => restore(asking)}
        />
      )}
      {failure && (
        <Alert color="red" icon={<IconAlert />} title="Could not restore" role="alert">
          {failure}
        </Alert>
      )}
    </Stack>
  );
}

interface ConfirmProps {
  version: number;
  endpoints: number;
  busy: boolean;
  onCancel: () => void;
  onConfirm: () => void;
}

/** Inline, not a second modal: one focus trap, and the table stays in view. */
function ConfirmRestore({ version, endpoints, busy, onCancel, onConfirm }: ConfirmProps) {
  const confirm = useRef<HTMLButtonElement>(null);
  useEffect(() => confirm.current?.focus(), [version]);
  const who =
    endpoints === 0 ? "No endpoint uses this key yet." : `${plural(endpoints, "endpoint uses", "endpoints use")} this key.`;
  return (
    <Alert
      color="yellow"
      icon={<IconAlert />}
      title={`Restore credential version ${version}?`}
      role="alertdialog"
      aria-label={`Restore credential version ${version}?`}
    >
      <Text size="sm">Every endpoint using this key switches to it at once. {who}</Text>
      <Group gap="sm" mt="sm" justify="flex-end">
        <Button size="xs" variant="default" onClick={onCancel} disabled={busy}>
          Cancel
        </Button>
        <Button size="xs" ref={confirm} loading={busy} onClick={onConfirm}>
          Restore version {version}
        </Button>
      </Group>
    </Alert>
  );
}
