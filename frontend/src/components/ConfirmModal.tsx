// The confirmation dialog of a destructive action (revoke a token, delete an endpoint or
// a key): a message, Cancel (focused, the safe default) and a red button; the server's
// refusal shown in the dialog, which stays open.
import { useState, type ReactNode } from "react";
import { Button, Group, Modal, Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { errorMessage } from "../api/errors";
import { FailureAlert } from "./FailureAlert";

/** The last non-null value: a closing dialog keeps its content during the animation. */
export function useLastShown<T>(value: T | null): T | null {
  const [shown, setShown] = useState<T | null>(value);
  if (value !== null && value !== shown) setShown(value);
  return value ?? shown;
}

interface ActionsProps {
  label: string;
  onCancel: () => void;
  onConfirm: () => void;
  pending: boolean;
  disabled?: boolean;
  /** Cancel takes the focus unless something else in the dialog should (a confirm box). */
  focusCancel?: boolean;
}

export function ConfirmActions({ label, onCancel, onConfirm, pending, disabled, focusCancel = true }: ActionsProps) {
  return (
    <Group justify="flex-end" gap="sm">
      <Button variant="default" onClick={onCancel} disabled={pending} data-autofocus={focusCancel || undefined}>
        Cancel
      </Button>
      <Button color="red" onClick={onConfirm} disabled={disabled} loading={pending}>
        {label}
      </Button>
    </Group>
  );
}

interface Props<T> {
  /** What the dialog is about; null closes it. */
  item: T | null;
  title: string;
  confirmLabel: string;
  onClose: () => void;
  /** Does the action; a rejection is shown in the dialog. */
  onConfirm: (item: T) => Promise<unknown>;
  pending: boolean;
  /** The notification once it is done. */
  done: (item: T) => string;
  children: (item: T) => ReactNode;
}

export function ConfirmModal<T>({ item, title, confirmLabel, onClose, onConfirm, pending, done, children }: Props<T>) {
  const current = useLastShown(item);
  const [failure, setFailure] = useState<{ for: T; message: string } | null>(null);

  async function confirm() {
    if (current === null) return;
    try {
      await onConfirm(current);
      notifications.show({ color: "green", message: done(current) });
      onClose();
    } catch (err) {
      setFailure({ for: current, message: errorMessage(err) });
    }
  }

  return (
    <Modal opened={item !== null} onClose={onClose} title={title} centered>
      {current !== null && (
        <Stack gap="md">
          {/* A failure belongs to the item it happened to, not to the next one opened. */}
          <FailureAlert failure={failure?.for === current ? failure.message : null} />
          {children(current)}
          <ConfirmActions label={confirmLabel} onCancel={onClose} onConfirm={confirm} pending={pending} />
        </Stack>
      )}
    </Modal>
  );
}
