/**
 * What `keysign freepbx sync` remembers between runs: per source URL, the highest feed
 * sequence it accepted, so that an older feed replayed later is refused. Kept in a small JSON
 * file (mode 0600) inside the GnuPG home unless --state names another.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { EXIT } from "./exit-codes.ts";
import { CommandError } from "./signer-errors.ts";
import { writeFileAtomically } from "./signer-home.ts";

export const STATE_FILE_NAME = "keysign-freepbx-sync.json";
const STATE_FORMAT = "keysign-freepbx-sync-state";

export interface SourceState {
  sequence: number;
  acceptedAt: string;
}

export interface SyncState {
  format: typeof STATE_FORMAT;
  version: 1;
  sources: Record<string, SourceState>;
}

export function emptyState(): SyncState {
  return { format: STATE_FORMAT, version: 1, sources: {} };
}

/** The state, or an empty one on the first run; a damaged file stops the run rather than forgetting what it guarded. */
export async function readState(file: string): Promise<SyncState> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return emptyState();
    throw new CommandError(EXIT.usage, `cannot read the state file ${file}; give a readable --state file`);
  }
  const state = parseState(text);
  if (state === null) {
    throw new CommandError(
      EXIT.fileRefused,
      `the state file ${file} is damaged; delete it to start again (the next feed is then accepted at whatever sequence it has)`,
    );
  }
  return state;
}

function parseState(text: string): SyncState | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || !("format" in value) || value.format !== STATE_FORMAT || !("version" in value) || value.version !== 1) return null;
  if (!("sources" in value) || typeof value.sources !== "object" || value.sources === null) return null;
  const sources: Record<string, SourceState> = {};
  for (const [url, entry] of Object.entries(value.sources as Record<string, unknown>)) {
    if (typeof entry !== "object" || entry === null) return null;
    const { sequence, acceptedAt } = entry as Record<string, unknown>;
    if (typeof sequence !== "number" || !Number.isSafeInteger(sequence) || typeof acceptedAt !== "string") return null;
    sources[url] = { sequence, acceptedAt };
  }
  return { format: STATE_FORMAT, version: 1, sources };
}

export async function writeState(file: string, state: SyncState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomically(file, new TextEncoder().encode(`${JSON.stringify(state, null, 2)}\n`), 0o600);
}
