import type { ReactNode } from "react";
import { ActionIcon, Group, Tooltip } from "@mantine/core";
import { IconEdit, IconTrash } from "./icons";

/** The Edit and Delete icon buttons at the end of a list row (and anything before them).
 * `deleteLabel` names what deleting is for the thing listed ("Revoke" for a token). */
export function RowActions({ name, onEdit, onDelete, deleteLabel = "Delete", children }: {
  name: string;
  onEdit: () => void;
  onDelete: () => void;
  deleteLabel?: string;
  children?: ReactNode;
}) {
  return (
    <Group gap={4} wrap="nowrap" justify="flex-end">
      {children}
      <Tooltip label="Edit">
        <ActionIcon variant="subtle" color="gray" aria-label={`Edit ${name}`} onClick={onEdit}>
          <IconEdit />
        </ActionIcon>
      </Tooltip>
      <Tooltip label={deleteLabel}>
        <ActionIcon variant="subtle" color="red" aria-label={`${deleteLabel} ${name}`} onClick={onDelete}>
          <IconTrash />
        </ActionIcon>
      </Tooltip>
    </Group>
  );
}
