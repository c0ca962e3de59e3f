/** A status feed as the portal publishes it, signed by a fresh publication key, for the module tools' tests. */
import { mkdtemp, writeFile } from "node:fs/promises";
import path from "node:path";
import * as openpgp from "openpgp";
import { encodeFeed } from "../../src/core/publication/feed.ts";
import { signDetached } from "../../src/core/transfer/envelope.ts";
import { makeTestKey } from "./keys.ts";

/** A status feed signed by a new publication key, written as FILE and FILE.sig with the key beside them. */
export async function writeSignedFeed(work: string, entries: Array<{ fingerprint: string; state: "certified" | "revoked" }>, validUntil: Date): Promise<{ file: string; publicationKey: string }> {
  const publication = await makeTestKey([{ name: "Publication", email: "publication@example.org" }], { encryptionSubkey: false });
  const directory = await mkdtemp(path.join(work, "feed-"));
  const body = encodeFeed({
    format: "keysign-status-feed",
    version: 1,
    sequence: 1,
    generatedAt: "2026-01-03T00:00:00.000Z",
    validUntil: validUntil.toISOString(),
    publicationKey: publication.fingerprint,
    entries: entries.map(({ fingerprint, state }) => ({
      fingerprint,
      // The module tools read the state only; the published key's digest is the sync's concern.
      keySha256: "0".repeat(64),
      userIdSha256: "0".repeat(64),
      certifiedAt: "2026-01-02T00:00:00.000Z",
      expiresAt: null,
      state,
      revokedAt: state === "revoked" ? "2026-02-03T00:00:00.000Z" : null,
      reason: state === "revoked" ? "malicious_module" : null,
    })),
  });
  const file = path.join(directory, "feed.json");
  await writeFile(file, body);
  await writeFile(`${file}.sig`, await signDetached(body, await openpgp.readPrivateKey({ armoredKey: publication.privateArmored }), new Date("2026-01-03T00:00:01Z")));
  await writeFile(path.join(directory, "publication-key.asc"), publication.publicArmored);
  return { file, publicationKey: path.join(directory, "publication-key.asc") };
}

