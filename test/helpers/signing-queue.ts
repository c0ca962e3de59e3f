/**
 * Drives the signing queue through the real pages (staff approve, an officer exports and
 * imports) and plays the offline signer with the core certification functions, so tests can
 * change one thing in a result and see the import refuse it.
 */
import * as openpgp from "openpgp";
import { makeCertification, makeRevocation, userIdBytes } from "../../src/core/transfer/certification.ts";
import { sealEnvelope, sha256Hex, signDetached } from "../../src/core/transfer/envelope.ts";
import { encodePayload, FORMAT_VERSION, isCertifying, parseBatchPayload, parseEnvelope, type BatchPayload, type ResultItem, type ResultPayload } from "../../src/core/transfer/formats.ts";
import { batchRevocationText, sealedRevocationText } from "../../src/core/transfer/revocation-text.ts";
import type { TestApp } from "./app.ts";
// certified.ts imports this module too; each uses the other's functions only when called.
import { certifyRequest } from "./certified.ts";
import type { TestKey } from "./keys.ts";
import type { Browser } from "./http.ts";
import { submitRequest } from "./requests.ts";
import { createStaff, signInStaff } from "./staff.ts";
import { makeMasterKey } from "./transfer.ts";

export interface SigningDesk {
  t: TestApp;
  reviewers: [Browser, Browser];
  officer: Browser;
  admin: Browser;
  master: openpgp.PrivateKey;
}

/** A master key made before the portal's test clock starts; the portal tests sign in-process with it. */
export async function makeMaster(type: "ed25519" | "rsa3072" = "ed25519"): Promise<openpgp.PrivateKey> {
  return (await makeMasterKey({ type, date: new Date("2026-01-01T00:00:00Z") })).privateKey;
}

/** Staff with every role the queue needs, and `master`'s public key uploaded as the master key. */
export async function signingDesk(t: TestApp, master?: openpgp.PrivateKey): Promise<SigningDesk> {
  for (const [email, roles] of [
    ["rita@keysign.example", ["reviewer"]],
    ["ravi@keysign.example", ["reviewer"]],
    ["sam@keysign.example", ["signing_officer"]],
    ["ada@keysign.example", ["admin"]],
  ] as const) {
    await createStaff(t, { email, roles: [...roles] });
  }
  const desk: SigningDesk = {
    t,
    reviewers: [await signInStaff(t, "rita@keysign.example"), await signInStaff(t, "ravi@keysign.example")],
    officer: await signInStaff(t, "sam@keysign.example"),
    admin: await signInStaff(t, "ada@keysign.example"),
    master: master ?? (await makeMaster()),
  };
  await setMaster(desk, desk.master);
  await setExportSettings(desk);
  return desk;
}

/** Moves the clock (staff sessions expire meanwhile) and signs everybody in again. */
export async function laterBy(desk: SigningDesk, ms: number): Promise<void> {
  desk.t.clock.now = new Date(desk.t.clock.now.getTime() + ms);
  desk.reviewers = [await signInStaff(desk.t, "rita@keysign.example"), await signInStaff(desk.t, "ravi@keysign.example")];
  desk.officer = await signInStaff(desk.t, "sam@keysign.example");
  desk.admin = await signInStaff(desk.t, "ada@keysign.example");
}

export async function setMaster(desk: SigningDesk, master: openpgp.PrivateKey): Promise<void> {
  const response = await desk.admin.postMultipart("/admin/settings/master-key", [{ name: "masterKeyText", value: master.toPublic().armor() }], "/admin/settings");
  if (response.statusCode !== 303) throw new Error(`master key upload failed: ${response.statusCode}`);
}

export const ORGANISATION = "Keysign Test Org";
export const CERTIFICATION_DOMAIN = "keys.keysign.example";

/** The settings every export needs, as an admin sets them: the organisation's name and the certification domain. */
export async function setExportSettings(desk: SigningDesk): Promise<void> {
  const page = await desk.admin.get("/admin/settings");
  const value = (name: string) => new RegExp(`name="${name}"[^>]* value="([^"]*)"`).exec(page.body)?.[1] ?? "";
  const form = { approvalsRequired: value("approvalsRequired"), certificationValidityDays: value("certificationValidityDays"), policyUrl: value("policyUrl"), organisationName: ORGANISATION, certificationDomain: CERTIFICATION_DOMAIN };
  const response = await desk.admin.postForm("/admin/settings", form, "/admin/settings");
  if (response.statusCode !== 303) throw new Error(`settings failed: ${response.statusCode} ${response.body.slice(0, 300)}`);
}

/** A request submitted by `address` and approved by both reviewers, so it waits in the queue. */
export async function queuedRequest(desk: SigningDesk, address: string, name = "Dev", key?: TestKey) {
  const submitted = await submitRequest(desk.t, address, name, key);
  for (const reviewer of desk.reviewers) {
    const page = await reviewer.get(`/admin/requests/${submitted.id}`);
    const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
    const response = await reviewer.postForm(`/admin/requests/${submitted.id}/approve`, { version }, `/admin/requests/${submitted.id}`);
    if (response.statusCode !== 303) throw new Error(`approval failed: ${response.statusCode} ${response.body.slice(0, 300)}`);
  }
  return submitted;
}

export async function exportBatch(desk: SigningDesk): Promise<{ number: number; file: Uint8Array; payload: BatchPayload }> {
  const response = await desk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
  if (response.statusCode !== 303) throw new Error(`export failed: ${response.statusCode} ${response.body.slice(0, 500)}`);
  const number = Number(/batches\/(\d+)/.exec(String(response.headers.location))?.[1]);
  const download = await desk.officer.get(`/admin/signing/batches/${number}/file`);
  const file = new Uint8Array(download.rawPayload);
  return { number, file, payload: parseBatchPayload(new Uint8Array(Buffer.from(parseEnvelope(file).payload, "base64"))) };
}

export interface SignOptions {
  /** When the certifications are made (defaults to one minute after the batch was created). */
  at?: Date;
  /** Requests to decline, with the reason. */
  decline?: Map<string, string>;
  /** The key that signs the result file (defaults to the master). */
  fileSigner?: openpgp.PrivateKey;
  /** Changes the payload before it is signed. */
  edit?: (payload: ResultPayload) => void | Promise<void>;
}

/** What the offline signer does, with the master as a software key. */
export async function signBatch(batchFile: Uint8Array, master: openpgp.PrivateKey, options: SignOptions = {}): Promise<Uint8Array> {
  const batch = parseBatchPayload(new Uint8Array(Buffer.from(parseEnvelope(batchFile).payload, "base64")));
  const at = options.at ?? new Date(new Date(batch.createdAt).getTime() + 60_000);
  const items: ResultItem[] = [];
  for (const item of batch.items) {
    const declined = options.decline?.get(item.requestId);
    if (declined !== undefined) {
      items.push({ id: item.id, status: "declined", reason: declined });
      continue;
    }
    const key = (await openpgp.readKey({ binaryKey: new Uint8Array(Buffer.from(item.key, "base64")) })).keyPacket as openpgp.PublicKeyPacket;
    if (isCertifying(item)) {
      const userIds = [];
      for (const userId of item.userIds) {
        const target = { key, userId: userIdBytes(userId) };
        userIds.push({
          userId,
          certification: b64(await makeCertification(master, target, item.certification, at)),
          revocation: b64(await makeRevocation(master, target, sealedRevocationText(batch.organisation, item.statusUrl), new Date(at.getTime() + 1000))),
        });
      }
      items.push({ id: item.id, status: "certified", userIds });
    } else {
      const revocations = [];
      const reason = batchRevocationText(batch.organisation, item.reason, item.statusUrl);
      for (const userId of item.userIds) revocations.push({ userId, revocation: b64(await makeRevocation(master, { key, userId: userIdBytes(userId) }, reason, at)) });
      items.push({ id: item.id, status: "revoked", revocations });
    }
  }
  const payload: ResultPayload = {
    format: "keysign-result",
    version: FORMAT_VERSION,
    batch: batch.batch,
    batchSha256: sha256Hex(batchFile),
    master: master.getFingerprint().toUpperCase(),
    signedAt: at.toISOString(),
    items,
  };
  await options.edit?.(payload);
  const bytes = encodePayload(payload);
  return sealEnvelope("result", bytes, await signDetached(bytes, options.fileSigner ?? master, at));
}

/** Imports `file` a few minutes later, as after a real ceremony. */
export async function importResult(desk: SigningDesk, file: Uint8Array) {
  desk.t.clock.now = new Date(desk.t.clock.now.getTime() + 5 * 60_000);
  return desk.officer.postMultipart("/admin/signing/import", [{ name: "result", filename: "result.json", content: file }], "/admin/signing/import");
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}


/**
 * A certified request without sealed revocations whose revocation both reviewers approved, so
 * it waits in the queue for the master key to sign it.
 */
export async function queuedRevocation(desk: SigningDesk, address: string, name = "Dev") {
  const submitted = await submitRequest(desk.t, address, name);
  await certifyRequest(desk.t, submitted.id, { master: desk.master, sealed: false });
  const [rita, ravi] = desk.reviewers;
  const page = `/admin/requests/${submitted.id}`;
  const versionOf = async (browser: Browser) => /name="version" value="(\d+)"/.exec((await browser.get(page)).body)?.[1] ?? "";
  const proposed = await rita.postForm(`${page}/revocations`, { version: await versionOf(rita), reasonCode: "key_compromised", reasonText: "The laptop was stolen." }, page);
  if (proposed.statusCode !== 303) throw new Error(`revocation proposal failed: ${proposed.statusCode} ${proposed.body.slice(0, 300)}`);
  const revocation = await desk.t.app.db.revocation.findFirstOrThrow({ where: { requestId: submitted.id } });
  const approved = await ravi.postForm(`${page}/revocations/${revocation.id}/approve`, { version: await versionOf(ravi) }, page);
  if (approved.statusCode !== 303) throw new Error(`revocation approval failed: ${approved.statusCode} ${approved.body.slice(0, 300)}`);
  return submitted;
}

/** An admin registers `master` as the new master beside the current one; the page's answer. */
export async function registerNewMaster(desk: SigningDesk, master: openpgp.PrivateKey) {
  return desk.admin.postMultipart("/admin/settings/new-master", [{ name: "newMasterKeyText", value: master.toPublic().armor() }], "/admin/settings");
}

/** A signing officer exports the re-certification batch for the new master; its number, file and payload. */
export async function recertifyBatch(desk: SigningDesk): Promise<{ number: number; file: Uint8Array; payload: BatchPayload }> {
  const response = await desk.officer.postForm("/admin/signing/recertify", {}, "/admin/signing");
  if (response.statusCode !== 303) throw new Error(`re-certify export answered ${response.statusCode}: ${response.body.slice(0, 800)}`);
  const number = Number(/batches\/(\d+)/.exec(String(response.headers.location))?.[1]);
  const file = new Uint8Array((await desk.officer.get(`/admin/signing/batches/${number}/file`)).rawPayload);
  return { number, file, payload: parseBatchPayload(new Uint8Array(Buffer.from(parseEnvelope(file).payload, "base64"))) };
}
