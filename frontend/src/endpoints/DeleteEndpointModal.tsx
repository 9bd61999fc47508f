import { Text } from "@mantine/core";
import { useDeleteEndpoint } from "../api/queries";
import type { EndpointView } from "../api/types";
import { ConfirmModal } from "../components/ConfirmModal";

export function DeleteEndpointModal({ endpoint, onClose }: { endpoint: EndpointView | null; onClose: () => void }) {
  const del = useDeleteEndpoint();
  return (
    <ConfirmModal
      item={endpoint}
      title="Delete endpoint"
      confirmLabel="Delete"
      onClose={onClose}
      onConfirm={(e) => del.mutateAsync(e.id)}
      pending={del.isPending}
      done={(e) => `Deleted endpoint “${e.name}”.`}
    >
      {(e) => (
        <Text size="sm">
          Delete the endpoint <b>{e.name}</b>? Applications calling model “{e.name}” will get 404. Its API keys are
          kept.
        </Text>
      )}
    </ConfirmModal>
  );
}
