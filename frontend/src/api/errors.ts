// One error type for every failed admin call, built from the server's error envelope
// {"error": {"code", "message", ...}}.

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[];
  readonly extra: Record<string, unknown>;

  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.fields = Array.isArray(extra.fields) ? (extra.fields as FieldError[]) : [];
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Turn whatever came back (envelope, FastAPI's {detail}, text) into an ApiError. */
export function toApiError(status: number, body: unknown): ApiError {
  if (isRecord(body) && isRecord(body.error)) {
    const { code, message, ...extra } = body.error;
    return new ApiError(
      status,
      typeof code === "string" ? code : "error",
      typeof message === "string" ? message : `Request failed (${status})`,
      extra,
    );
  }
  if (isRecord(body) && Array.isArray(body.detail)) {
    // FastAPI's default validation shape, in case a route escapes the envelope.
    const fields = body.detail.filter(isRecord).map((d) => ({
      field: Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "",
      message: String(d.msg ?? "invalid"),
    }));
    return new ApiError(status, "validation_error", "Some fields are not valid.", { fields });
  }
  const text = typeof body === "string" && body.length < 300 ? body : "";
  return new ApiError(status, "error", text || `Request failed (${status})`);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Map server field errors onto form paths. The server's dotted path names the body key
 * first ("credentials.api_key", "config.region", "name", "targets.0.model").
 */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError)) return {};
  const out: Record<string, string> = {};
  for (const f of err.fields) {
    // The server writes terse lower-case reasons ("required"); show them as sentences.
    if (f.field && !(f.field in out)) out[f.field] = f.message.charAt(0).toUpperCase() + f.message.slice(1);
  }
  return out;
}
