/**
 * Upstream keyservers the portal pushes its published keys to: the setting's URLs, and when
 * a failed push is tried again. Pure: no network, no database.
 */

export interface Keyserver {
  /** The keyserver as staff see it and as push rows name it: `hkps://host` or `hkp://host:port`, default port left out. */
  name: string;
  /** Where published keys are posted (HKP's `/pks/add`). */
  addUrl: string;
}

/** HKP's registered port; hkps is HKP over https on 443. */
const SCHEMES: Readonly<Record<string, { transport: "http:" | "https:"; defaultPort: string }>> = {
  "hkp:": { transport: "http:", defaultPort: "11371" },
  "hkps:": { transport: "https:", defaultPort: "443" },
};

const MAX_KEYSERVERS = 10;

export type KeyserverList = { ok: true; keyservers: Keyserver[] } | { ok: false; message: string };

/**
 * Reads the list (URLs separated by spaces or commas). Only a scheme, a host and a port: a
 * path, query or credentials would be shown on the staff page and in logs, and no keyserver
 * needs them for `/pks/add`. The same keyserver written twice counts once.
 */
export function parseKeyserverList(text: string): KeyserverList {
  const entries = text.split(/[\s,]+/).filter((entry) => entry !== "");
  const found = new Map<string, Keyserver>();
  for (const entry of entries) {
    const parsed = parseKeyserver(entry);
    if (!parsed.ok) return parsed;
    found.set(parsed.keyserver.name, parsed.keyserver);
  }
  if (found.size > MAX_KEYSERVERS) return { ok: false, message: `at most ${MAX_KEYSERVERS} keyservers can be listed; ${found.size} were given` };
  return { ok: true, keyservers: [...found.values()] };
}

function parseKeyserver(entry: string): { ok: true; keyserver: Keyserver } | { ok: false; message: string } {
  const refuse = (why: string) => ({ ok: false as const, message: `"${entry.slice(0, 100)}" is not a keyserver URL: ${why}` });
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return refuse("write it as hkps://keys.example.org or hkp://keys.example.org:11371");
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme) return refuse("only hkp:// (plain http, port 11371 unless given) and hkps:// (https, port 443 unless given) are supported");
  // Not echoed: the message is printed at start-up, and the password would be in it.
  if (url.username || url.password) return { ok: false, message: `a keyserver URL for ${url.protocol}//${url.host} has credentials in it; they are not supported` };
  if (!url.hostname) return refuse("the host is missing");
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) return refuse("give only the scheme, host and port; keys are posted to /pks/add");
  // `new URL` leaves the host of a scheme it does not know as written, and keeps a default port.
  const hostname = url.hostname.toLowerCase();
  const port = url.port === scheme.defaultPort ? "" : url.port;
  const host = port ? `${hostname}:${port}` : hostname;
  return {
    ok: true,
    keyserver: { name: `${url.protocol}//${host}`, addUrl: `${scheme.transport}//${hostname}:${port || scheme.defaultPort}/pks/add` },
  };
}

/** Attempts before a push is failed for good; with the schedule below they span about 20 hours. */
export const MAX_PUSH_ATTEMPTS = 12;
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 6 * 60 * 60_000;

/** The wait after the `attempts`-th failure: a minute, doubling, at most six hours. */
export function pushRetryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}
