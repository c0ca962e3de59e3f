/**
 * One HKP submission (`POST /pks/add`): the armored key as the form field `keytext`. Bounded
 * by the caller's signal; redirects are not followed (a keyserver that moved is configured
 * anew by staff, not chased); at most a few KiB of the answer are read, for the error text.
 */

export type PostOutcome = { ok: true } | { ok: false; error: string };

/** Bytes of a refusal read for its text; the rest is not read. */
const ANSWER_BYTES = 4096;
/** Characters of the answer kept in the error shown to staff. */
const ERROR_CHARS = 200;

export async function postKey(addUrl: string, keytext: string, signal: AbortSignal): Promise<PostOutcome> {
  let response: Response;
  try {
    response = await fetch(addUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/plain, text/html;q=0.9, */*;q=0.1" },
      body: new URLSearchParams({ keytext }).toString(),
      redirect: "manual",
      signal,
    });
  } catch (error) {
    return { ok: false, error: describeFetchError(error) };
  }
  let answer: string;
  try {
    answer = await readBounded(response, ANSWER_BYTES);
  } catch (error) {
    return { ok: false, error: `HTTP ${response.status}, then ${describeFetchError(error)}` };
  }
  if (response.status >= 200 && response.status < 300) return { ok: true };
  if (response.status >= 300 && response.status < 400) return { ok: false, error: `HTTP ${response.status}: the keyserver redirects, and redirects are not followed; check the URL in PUBLISH_KEYSERVERS` };
  const text = summarise(answer);
  return { ok: false, error: text ? `HTTP ${response.status}: ${text}` : `HTTP ${response.status}` };
}

async function readBounded(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } finally {
    // Whatever is left is not wanted; cancelling frees the connection.
    await reader.cancel().catch(() => undefined);
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(Buffer.concat(chunks).subarray(0, maxBytes));
}

/**
 * The answer as one short line: tags, control characters and runs of white space removed. An
 * answer that quotes a key is not kept: staff pages and logs never show key material.
 */
export function summarise(answer: string): string {
  if (/-----BEGIN PGP/i.test(answer)) return "(the answer quoted key material, not recorded)";
  const plain = answer
    .replace(/<[^>]{0,500}>/g, " ")
    .replace(/[\p{Cc}\p{Cf}]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  return plain.length > ERROR_CHARS ? `${plain.slice(0, ERROR_CHARS)}…` : plain;
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  // fetch reports network failures as "fetch failed" with the socket's error as the cause.
  const cause: unknown = error.cause;
  const inner = cause instanceof Error ? cause : error;
  const code = "code" in inner && typeof inner.code === "string" ? `${inner.code}: ` : "";
  return summarise(`${code}${inner.message}`);
}
