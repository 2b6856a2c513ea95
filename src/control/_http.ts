/**
 * The HTTP side every route shares: JSON answers, the JSON error shape, and reading a JSON
 * body within {@link MAX_BODY_BYTES}.
 *
 * @module
 */
import { errorMessage, isLiminalError, LiminalError } from "../shared/errors.ts";
import { type JsonValue, MAX_PAYLOAD_BYTES, parseJson } from "../shared/json.ts";

/** The largest request body: a 1 MiB payload plus room for the rest of the job spec. */
export const MAX_BODY_BYTES = MAX_PAYLOAD_BYTES + 64 * 1024;

/** A JSON answer. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The JSON error response for an error. */
export function errorResponse(error: unknown): Response {
  if (isLiminalError(error)) return json({ error: error.toJSON() }, error.status);
  return json({ error: { code: "INTERNAL", message: errorMessage(error) } }, 500);
}

/** Reads a JSON body of at most {@link MAX_BODY_BYTES}. */
export async function readJson(request: Request, optional = false): Promise<JsonValue> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge(Number(declared));
  }
  if (request.body === null) {
    if (optional) return {};
    throw new LiminalError("INVALID_JSON", "the request needs a JSON body");
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (error) {
      // The body ended before its Content-Length, or the client went away mid-body.
      throw new LiminalError(
        "INVALID_JSON",
        `cannot read the request body: ${errorMessage(error)}`,
      );
    }
    const { done, value } = next;
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge(size);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new LiminalError("INVALID_JSON", "the request body is not UTF-8 text");
  }
  if (text.trim() === "" && optional) return {};
  return parseJson(text, "the request body");
}

function tooLarge(size: number): LiminalError {
  return new LiminalError(
    "PAYLOAD_TOO_LARGE",
    `the request body is ${
      size > MAX_BODY_BYTES ? `over ${MAX_BODY_BYTES}` : size
    } bytes; the limit is ${MAX_BODY_BYTES} (a 1 MiB payload and its job spec)`,
  );
}
