import { Text } from "@mantine/core";
import { useRevokeAccessToken } from "../api/queries";
import type { AccessTokenView } from "../api/types";
import { ConfirmModal } from "../components/ConfirmModal";

export function RevokeTokenModal({ token, onClose }: { token: AccessTokenView | null; onClose: () => void }) {
  const revoke = useRevokeAccessToken();
  return (
    <ConfirmModal
      item={token}
      title="Revoke access token"
      confirmLabel="Revoke"
      onClose={onClose}
      onConfirm={(t) => revoke.mutateAsync(t.id)}
      pending={revoke.isPending}
      done={(t) => `Revoked access token “${t.name}”.`}
    >
      {(t) => (
        <Text size="sm">
          Revoke <b>{t.name}</b> (<span className="kh-mono">{t.prefix}…</span>)? Applications using it get 401 from
          their next request. This cannot be undone.
        </Text>
      )}
    </ConfirmModal>
  );
}
