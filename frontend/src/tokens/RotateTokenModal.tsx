// Rotate an access token: a new secret, shown once; the old one may keep working for a
// grace period so applications can switch without an outage.
import { useState } from "react";
import { Modal, SegmentedControl, Input, Stack, Text } from "@mantine/core";
import { useRotateAccessToken } from "../api/queries";
import type { AccessTokenCreated, AccessTokenView } from "../api/types";
import { errorMessage } from "../api/errors";
import { ConfirmActions, useLastShown } from "../components/ConfirmModal";
import { FailureAlert } from "../components/FailureAlert";
import { GRACE_OPTIONS } from "./tokenForm";
import { ShowSecret } from "./ShowSecret";

export function RotateTokenModal({ token, onClose }: { token: AccessTokenView | null; onClose: () => void }) {
  const current = useLastShown(token);
  const [rotated, setRotated] = useState<AccessTokenCreated | null>(null);
  const close = () => {
    setRotated(null);
    onClose();
  };
  return (
    <Modal
      opened={token !== null}
      onClose={close}
      title={rotated ? "Access token rotated" : "Rotate access token"}
      size={rotated ? "lg" : "md"}
      centered
      closeOnClickOutside={!rotated}
    >
      {rotated ? (
        <ShowSecret created={rotated} onDone={close} />
      ) : (
        current && <RotateForm key={current.id} token={current} onRotated={setRotated} onCancel={close} />
      )}
    </Modal>
  );
}

function RotateForm({ token, onRotated, onCancel }: { token: AccessTokenView; onRotated: (t: AccessTokenCreated) => void; onCancel: () => void }) {
  const rotate = useRotateAccessToken();
  const [grace, setGrace] = useState("3600");
  const [failure, setFailure] = useState<string | null>(null);

  async function confirm() {
    setFailure(null);
    try {
      onRotated(await rotate.mutateAsync({ id: token.id, body: { grace_seconds: Number(grace) } }));
    } catch (err) {
      setFailure(errorMessage(err));
    }
  }

  return (
    <Stack gap="md">
      <FailureAlert failure={failure} />
      <Text size="sm">
        Give <b>{token.name}</b> (<span className="kh-mono">{token.prefix}…</span>) a new secret. Its name, scope, expiry
        and limits stay as they are.
      </Text>
      <Input.Wrapper
        label="The old secret keeps working for"
        description={grace === "0" ? "It stops working at once: applications get 401 until they use the new one." : "Long enough to update the applications that use it."}
        id="rotate-grace"
        labelElement="div"
      >
        <SegmentedControl aria-labelledby="rotate-grace-label" fullWidth mt={4} data={GRACE_OPTIONS} value={grace} onChange={setGrace} />
      </Input.Wrapper>
      <ConfirmActions label="Rotate" onCancel={onCancel} onConfirm={confirm} pending={rotate.isPending} />
    </Stack>
  );
}
