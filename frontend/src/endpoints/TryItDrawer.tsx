import { useEffect, useRef, useState } from "react";
import {
  Alert,
  Anchor,
  Box,
  Button,
  Code,
  Drawer,
  Group,
  Paper,
  ScrollArea,
  Stack,
  Text,
  Textarea,
} from "@mantine/core";
import { useNarrow } from "../lib/useNarrow";
import { href, ROUTES } from "../lib/router";
import { pythonSample } from "../tokens/tokenForm";
import type { EndpointView } from "../api/types";
import { IconAlert, IconSend } from "../components/icons";
import { GatewayError, streamChat, type ChatMessage, type Usage } from "./chatStream";

export function TryItDrawer({ endpoint, onClose }: { endpoint: EndpointView | null; onClose: () => void }) {
  const narrow = useNarrow();
  const [shown, setShown] = useState<EndpointView | null>(endpoint);
  if (endpoint && endpoint !== shown) setShown(endpoint);
  const current = endpoint ?? shown;
  return (
    <Drawer
      opened={endpoint !== null}
      onClose={onClose}
      position="right"
      size={narrow ? "100%" : "lg"}
      title={current ? `Try “${current.name}”` : "Try it"}
    >
      {current && <TryIt key={current.id} endpoint={current} onLeave={onClose} />}
    </Drawer>
  );
}

interface Turn extends ChatMessage {
  streaming?: boolean;
}

function describe(err: unknown): { title: string; message: string } {
  if (err instanceof GatewayError) {
    const bits = [err.status ? `HTTP ${err.status}` : null, err.type, err.code].filter(Boolean);
    return { title: bits.length ? bits.join(" · ") : "Error", message: err.message };
  }
  return { title: "Network error", message: err instanceof Error ? err.message : String(err) };
}

function TryIt({ endpoint, onLeave }: { endpoint: EndpointView; onLeave: () => void }) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [text, setText] = useState("");
  const [error, setError] = useState<{ title: string; message: string } | null>(null);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const viewport = useRef<HTMLDivElement>(null);

  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => {
    viewport.current?.scrollTo({ top: viewport.current.scrollHeight });
  }, [turns]);

  async function send() {
    const content = text.trim();
    if (!content || busy) return;
    const history: ChatMessage[] = [
      ...turns.filter((t) => t.content).map(({ role, content: c }) => ({ role, content: c })),
      { role: "user", content },
    ];
    setTurns([...history, { role: "assistant", content: "", streaming: true }]);
    setText("");
    setError(null);
    setUsage(null);
    setBusy(true);
    const ctrl = new AbortController();
    abort.current = ctrl;
    try {
      const result = await streamChat(
        endpoint.name,
        history,
        (delta) =>
          setTurns((prev) => {
            const last = prev[prev.length - 1];
            return [...prev.slice(0, -1), { ...last, content: last.content + delta }];
          }),
        ctrl.signal,
      );
      setUsage(result.usage);
    } catch (err) {
      if (!ctrl.signal.aborted) setError(describe(err));
    } finally {
      setTurns((prev) => prev.filter((t) => !(t.streaming && !t.content)).map((t) => ({ ...t, streaming: false })));
      setBusy(false);
      abort.current = null;
    }
  }

  const origin = window.location.origin;
  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        Sends your message to <Code>POST /v1/chat/completions</Code> with <Code>model: "{endpoint.name}"</Code> and{" "}
        <Code>stream: true</Code>, through the same path your applications use.
      </Text>
      <ScrollArea.Autosize mah="50vh" viewportRef={viewport} type="auto">
        <Stack gap="sm" aria-live="polite" aria-label="Conversation" role="log" data-testid="conversation">
          {turns.length === 0 && (
            <Text size="sm" c="dimmed" ta="center" py="lg">
              No messages yet.
            </Text>
          )}
          {turns.map((t, i) => (
            <Paper
              key={i}
              p="sm"
              radius="md"
              withBorder={t.role === "assistant"}
              bg={t.role === "user" ? "var(--mantine-color-indigo-light)" : undefined}
              ml={t.role === "user" ? "xl" : 0}
              mr={t.role === "assistant" ? "xl" : 0}
              data-role={t.role}
            >
              <Text size="xs" fw={600} c="dimmed" mb={2}>
                {t.role === "user" ? "You" : endpoint.name}
              </Text>
              <Text size="sm" className="kh-answer" data-testid={t.role === "assistant" ? "answer" : undefined}>
                {t.content || (t.streaming ? "…" : "")}
              </Text>
            </Paper>
          ))}
        </Stack>
      </ScrollArea.Autosize>
      {error && (
        <Alert color="red" icon={<IconAlert />} title={error.title} role="alert">
          {error.message}
        </Alert>
      )}
      {usage && (
        <Text size="xs" c="dimmed">
          Tokens: {usage.prompt_tokens ?? "?"} in, {usage.completion_tokens ?? "?"} out
        </Text>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <Stack gap="xs">
          <Textarea
            label="Message"
            placeholder="Say hello"
            autosize
            minRows={2}
            maxRows={6}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) {
                e.preventDefault();
                void send();
              }
            }}
            description="Ctrl+Enter sends."
            data-autofocus
          />
          <Group justify="space-between">
            <Button variant="subtle" color="gray" onClick={() => { setTurns([]); setError(null); setUsage(null); }} disabled={busy || turns.length === 0}>
              Clear
            </Button>
            <Group gap="xs">
              {busy && (
                <Button variant="default" onClick={() => abort.current?.abort()}>
                  Stop
                </Button>
              )}
              <Button type="submit" leftSection={<IconSend size={16} />} loading={busy} disabled={!text.trim()}>
                Send
              </Button>
            </Group>
          </Group>
        </Stack>
      </form>
      <Box>
        <Text size="sm" fw={500} mb={4}>
          From your code
        </Text>
        <Text size="sm" c="dimmed" mb={6}>
          Your application needs an access token:{" "}
          <Anchor href={href(ROUTES.accessTokens)} onClick={onLeave}>
            create one under Access Tokens
          </Anchor>
          .
        </Text>
        <Code block style={{ overflowX: "auto" }}>
          {pythonSample(origin, "<access token>", endpoint.name)}
        </Code>
      </Box>
    </Stack>
  );
}
