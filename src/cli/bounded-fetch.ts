/**
 * GET with a byte limit and a timeout, for what a sync reads from a portal or its mirror: a
 * source that is slow, answers with an error or sends more than expected ends the run with one
 * line saying which URL and why, before anything is imported.
 */
import { EXIT } from "./exit-codes.ts";
import { CommandError } from "./signer-errors.ts";

/** Connecting, answering and sending the whole body together; a static file needs far less. */
export const FETCH_TIMEOUT_MS = 30_000;

export function sourceError(message: string): CommandError {
  return new CommandError(EXIT.source, message);
}

export async function fetchBounded(url: URL, maxBytes: number, timeoutMs = FETCH_TIMEOUT_MS, option = "--from"): Promise<Uint8Array> {
  const found = await fetchBoundedOrMissing(url, maxBytes, timeoutMs, option);
  if (found === null) throw sourceError(`GET ${url.href} answered 404; check the ${option} address and that the portal or mirror serves it`);
  return found;
}

/** As `fetchBounded`, but a 404 gives null: the source answered, and has no such thing. */
export async function fetchBoundedOrMissing(url: URL, maxBytes: number, timeoutMs = FETCH_TIMEOUT_MS, option = "--from"): Promise<Uint8Array | null> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, { signal, headers: { accept: "*/*" } });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw sourceError(`GET ${url.href} answered ${response.status}; check the ${option} address and that the portal or mirror serves it`);
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw tooLarge(url, maxBytes);
    }
    return await readLimited(response, url, maxBytes);
  } catch (error) {
    if (error instanceof CommandError) throw error;
    if (signal.aborted) throw sourceError(`GET ${url.href} did not finish within ${timeoutMs / 1000} s`);
    throw sourceError(`cannot reach ${url.host} for GET ${url.href}${networkCode(error)}`);
  }
}

async function readLimited(response: Response, url: URL, maxBytes: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(url, maxBytes);
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function tooLarge(url: URL, maxBytes: number): CommandError {
  return sourceError(`GET ${url.href} sent more than ${maxBytes} bytes, more than it may`);
}

/** The system's error code (ECONNREFUSED, ENOTFOUND, …), which says more than "fetch failed". */
function networkCode(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined;
  return typeof code === "string" ? ` (${code})` : "";
}
