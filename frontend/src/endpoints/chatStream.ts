// Streams a chat completion from the gateway (OpenAI SSE) for the "Try it" panel.
import { CLIENT_HEADER } from "../api/client";
import { readSse } from "../lib/sse";

export interface ChatMessage {
  role: "user" | "assistant" | "system";
  content: string;
}

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

/** An error in the OpenAI envelope {"error": {"message", "type", "param", "code"}}. */
export class GatewayError extends Error {
  readonly status: number | null;
  readonly type: string | null;
  readonly code: string | null;

  constructor(message: string, status: number | null, type: string | null = null, code: string | null = null) {
    super(message);
    this.name = "GatewayError";
    this.status = status;
    this.type = type;
    this.code = code;
  }
}

function fromEnvelope(body: unknown, status: number | null): GatewayError | null {
  if (typeof body !== "object" || body === null || !("error" in body)) return null;
  const e = (body as { error: unknown }).error;
  if (typeof e === "string") return new GatewayError(e, status);
  if (typeof e !== "object" || e === null) return null;
  const { message, type, code } = e as Record<string, unknown>;
  return new GatewayError(
    typeof message === "string" ? message : "The gateway returned an error.",
    status,
    typeof type === "string" ? type : null,
    typeof code === "string" || typeof code === "number" ? String(code) : null,
  );
}

async function errorFromResponse(res: Response): Promise<GatewayError> {
  const text = await res.text().catch(() => "");
  try {
    const env = fromEnvelope(JSON.parse(text), res.status);
    if (env) return env;
  } catch {
    // not JSON: fall through
  }
  return new GatewayError(text.slice(0, 300) || `The gateway answered HTTP ${res.status}.`, res.status);
}

export interface StreamResult {
  finishReason: string | null;
  usage: Usage | null;
}

export async function streamChat(
  model: string,
  messages: ChatMessage[],
  onDelta: (text: string) => void,
  signal: AbortSignal,
): Promise<StreamResult> {
  const res = await fetch("/v1/chat/completions", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...CLIENT_HEADER },
    body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!res.ok) throw await errorFromResponse(res);
  if (!res.body) throw new GatewayError("The gateway sent no body.", res.status);

  const result: StreamResult = { finishReason: null, usage: null };
  for await (const data of readSse(res.body)) {
    if (data === "[DONE]") break;
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new GatewayError("The gateway sent a malformed stream event.", res.status);
    }
    // Errors after the stream started arrive as an event carrying the envelope.
    const err = fromEnvelope(chunk, null);
    if (err) throw err;
    const c = chunk as {
      choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
      usage?: Usage | null;
    };
    const choice = c.choices?.[0];
    if (choice?.delta?.content) onDelta(choice.delta.content);
    if (choice?.finish_reason) result.finishReason = choice.finish_reason;
    if (c.usage) result.usage = c.usage;
  }
  return result;
}
