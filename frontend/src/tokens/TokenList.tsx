// The access tokens as a table (wide windows) or as cards (phones): the columns.
import { ActionIcon, Badge, Group, Stack, Text, Tooltip } from "@mantine/core";
import type { AccessTokenView } from "../api/types";
import { IconRotate } from "../components/icons";
import { LastUsed } from "../components/LastUsed";
import { RowActions } from "../components/RowActions";
import { ListView, type Column } from "../components/ListView";
import { TimeCell } from "../components/TimeCell";
import { LimitUse } from "../limits/LimitUse";
import { isExpired, scopeLabel } from "./tokenForm";

export interface TokenListProps {
  tokens: AccessTokenView[];
  onEdit: (t: AccessTokenView) => void;
  onRotate: (t: AccessTokenView) => void;
  onRevoke: (t: AccessTokenView) => void;
}

function Scope({ t }: { t: AccessTokenView }) {
  if (t.endpoints === null || t.endpoints === undefined)
    return (
      <Badge variant="light" color="gray">
        All endpoints
      </Badge>
    );
  return (
    <Text size="sm" className="kh-mono" style={{ wordBreak: "break-word" }}>
      {scopeLabel(t)}
    </Text>
  );
}

/** When it expires, and while a rotation's grace lasts, until when the old secret works. */
function Expiry({ t }: { t: AccessTokenView }) {
  return (
    <Stack gap={2} data-col="expires">
      {!t.expires_at ? (
        <Text size="sm" c="dimmed">
          Never
        </Text>
      ) : isExpired(t) ? (
        <Group gap={6} wrap="nowrap">
          <Badge size="sm" color="red" variant="light">
            Expired
          </Badge>
          <TimeCell iso={t.expires_at} />
        </Group>
      ) : (
        <TimeCell iso={t.expires_at} />
      )}
      {t.previous_valid_until && (
        <Text size="xs" c="orange" component="div" style={{ whiteSpace: "nowrap" }}>
          Old secret ends <TimeCell iso={t.previous_valid_until} />
        </Text>
      )}
    </Stack>
  );
}

function Actions({ t, onEdit, onRotate, onRevoke }: { t: AccessTokenView; onEdit: () => void; onRotate: () => void; onRevoke: () => void }) {
  return (
    <RowActions name={t.name} onEdit={onEdit} onDelete={onRevoke} deleteLabel="Revoke">
      <Tooltip label="Rotate">
        <ActionIcon variant="subtle" color="gray" aria-label={`Rotate ${t.name}`} onClick={onRotate}>
          <IconRotate />
        </ActionIcon>
      </Tooltip>
    </RowActions>
  );
}

function Name({ t }: { t: AccessTokenView }) {
  return (
    <div>
      <Text fw={600} size="sm" style={{ overflowWrap: "anywhere" }}>
        {t.name}
      </Text>
      <Text size="xs" c="dimmed" className="kh-mono">
        {t.prefix}…
      </Text>
    </div>
  );
}

const COLUMNS: Column<AccessTokenView>[] = [
  { label: "May call", cell: (t) => <Scope t={t} /> },
  { label: "Limits", col: "limits", cell: (t) => <LimitUse scope="token" id={t.id} limits={t.limits} /> },
  { label: "Expires", cell: (t) => <Expiry t={t} /> },
  { label: "Last used", col: "last-used", cell: (t) => <LastUsed item={t} /> },
  { label: "Created", cell: (t) => <TimeCell iso={t.created_at} /> },
];

export function TokenList({ tokens, narrow, onEdit, onRotate, onRevoke }: TokenListProps & { narrow: boolean }) {
  return (
    <ListView
      items={tokens}
      label="Access tokens"
      narrow={narrow}
      minWidth={960}
      name={(t) => <Name t={t} />}
      columns={COLUMNS}
      actions={(t) => <Actions t={t} onEdit={() => onEdit(t)} onRotate={() => onRotate(t)} onRevoke={() => onRevoke(t)} />}
      itemProps={(t) => ({ key: t.id, "data-token-id": t.id })}
    />
  );
}
