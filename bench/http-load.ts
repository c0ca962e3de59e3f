/**
 * Requests per second and p99 latency for the landing page and a signed-in request page,
 * with load from a second process (autocannon) on loopback, beside a bare Fastify "hello"
 * route measured in the same run as the ceiling.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Fastify from "fastify";
import type { AddressInfo } from "node:net";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { newToken, hashToken } from "../src/core/tokens.ts";
import { templateDatabase } from "../test/helpers/app.ts";

const DURATION_S = 8;
const CONNECTIONS = 20;

export interface LoadResult { rps: number; p50: number; p99: number; errors: number; non2xx: number }

export async function load(url: string, cookie?: string, connections = CONNECTIONS): Promise<LoadResult> {
  const cli = path.resolve(import.meta.dirname, "../node_modules/autocannon/autocannon.js");
  const args = [cli, "-c", String(connections), "-d", String(DURATION_S), "--json", ...(cookie ? ["-H", `cookie=${cookie}`] : []), url];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", reject);
    child.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
  const parsed = JSON.parse(output) as { requests: { average: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number };
  return { rps: parsed.requests.average, p50: parsed.latency.p50, p99: parsed.latency.p99, errors: parsed.errors, non2xx: parsed.non2xx };
}

export async function bareHello(): Promise<{ url: string; close: () => Promise<void> }> {
  const app = Fastify({ logger: false });
  app.get("/", async () => "hello");
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => app.close() };
}

/** A portal on a fresh database with one applicant, one signed-in session and one request. */
async function portal() {
  const dataDir = await mkdtemp(path.join(tmpdir(), "keysign-bench-"));
  await copyFile(await templateDatabase(), path.join(dataDir, "keysign.db"));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "silent", MAIL_WORKER: "false", AUTO_MIGRATE: "false" });
  const app = await buildApp({ config });
  const { sessionToken, requestId } = await seed(app.db);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    cookie: `ks_session=${sessionToken}`,
    requestId,
    close: async () => {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function seed(db: Awaited<ReturnType<typeof buildApp>>["db"]) {
  const applicantId = randomUUID();
  const now = new Date();
  await db.applicant.create({ data: { id: applicantId, email: "bench@example.org" } });
  const sessionToken = newToken();
  await db.session.create({ data: { id: randomUUID(), tokenHash: hashToken(sessionToken), applicantId, expiresAt: new Date(now.getTime() + 3_600_000) } });
  const requestId = randomUUID();
  await db.request.create({
    data: { id: requestId, applicantId, state: "submitted", licence: "GPL-3.0-or-later", projectUrls: '["https://example.org/m"]', attestOpenSource: true, attestNotCommercial: true, attestAgreement: true },
  });
  const facts = {
    fingerprint: "A".repeat(40), algorithm: "Ed25519", algorithmId: "ed25519", bits: 255, createdAt: now, expiresAt: null,
    userIds: [{ userId: "Bench <bench@example.org>", name: "Bench", email: "bench@example.org" }], subkeys: [], canSign: true, canEncrypt: false,
  };
  await db.requestKey.create({
    data: {
      id: randomUUID(), requestId, revision: 1, fingerprint: facts.fingerprint, canonicalKey: Buffer.alloc(10), canonicalSha256: "0".repeat(64),
      algorithm: "Ed25519", keyCreatedAt: now, facts: JSON.stringify({ facts, warnings: [] }), certifyUserIds: '["Bench <bench@example.org>"]',
    },
  });
  await db.agreement.create({
    data: { id: randomUUID(), requestId, revision: 1, fileName: "agreement.pdf", sha256: "0".repeat(64), size: 1000, storageName: `${randomUUID()}.pdf`, signature: "", signerFingerprint: facts.fingerprint },
  });
  for (let i = 0; i < 8; i++) {
    await db.auditEvent.create({ data: { seq: i + 1, at: now, actorType: "applicant", action: "request.submit", requestId, data: "{}", prevHash: String(i), hash: String(i + 1) } });
  }
  return { sessionToken, requestId };
}

export async function runHttpLoad(): Promise<void> {
  console.log(`\n## HTTP load (autocannon in a second process, ${CONNECTIONS} connections, ${DURATION_S} s each, loopback)`);
  const hello = await bareHello();
  const app = await portal();
  try {
    const rows: Array<[string, LoadResult]> = [
      ["bare fastify hello (ceiling)", await load(hello.url)],
      ["landing page /", await load(`${app.base}/`)],
      ["signed-in request page", await load(`${app.base}/requests/${app.requestId}`, app.cookie)],
    ];
    console.log("| route | req/s | p50 ms | p99 ms | errors | non-2xx |");
    console.log("|---|---|---|---|---|---|");
    const ceiling = rows[0]?.[1].rps ?? 1;
    for (const [name, r] of rows) {
      console.log(`| ${name} | ${r.rps.toFixed(0)} (${((r.rps / ceiling) * 100).toFixed(0)}% of ceiling) | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} |`);
    }
  } finally {
    await app.close();
    await hello.close();
  }
}
