import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { TestApp } from "./app.ts";
import type { Browser, MultipartPart } from "./http.ts";
import { makeTestKey, type TestKey } from "./keys.ts";
import { signInAs } from "./session.ts";

export const AGREEMENT_PDF = await readFile(path.resolve(import.meta.dirname, "../../public/keysign-agreement.pdf"));

/** The second step of the request form, filled in completely, with `agreement` signed by `key`. */
export async function submissionParts(key: TestKey, userId: string, agreement: Uint8Array = AGREEMENT_PDF): Promise<MultipartPart[]> {
  return [
    { name: "keyText", value: key.publicArmored },
    { name: "certifyUserIds", value: userId },
    { name: "licence", value: "GPL-3.0-or-later" },
    { name: "projectUrls", value: "https://github.com/dev/module" },
    { name: "attestOpenSource", value: "on" },
    { name: "attestNotCommercial", value: "on" },
    { name: "attestAgreement", value: "on" },
    { name: "agreement", filename: "agreement.pdf", content: agreement },
    { name: "signature", filename: "agreement.pdf.asc", content: Buffer.from(await key.sign(agreement)) },
  ];
}

/** Submits a request through the applicant's real form; returns its id, the key and the applicant's browser. */
export async function submitRequest(
  t: TestApp,
  address: string,
  name = "Dev",
  key?: TestKey,
): Promise<{ id: string; key: TestKey; applicant: Browser }> {
  const used = key ?? (await makeTestKey([{ name, email: address }]));
  const applicant = await signInAs(t, address);
  const response = await applicant.postMultipart("/requests", await submissionParts(used, `${name} <${address}>`), "/requests/new");
  if (response.statusCode !== 303) throw new Error(`submission failed with ${response.statusCode}`);
  const id = (response.headers.location ?? "").split("/").pop() ?? "";
  return { id, key: used, applicant };
}

/** Everything a POST could leave behind: rows of every table a form writes, and stored files. */
export async function traces(t: TestApp): Promise<Record<string, number>> {
  const db = t.app.db;
  const files = [...(await readdir(path.join(t.dataDir, "agreements"))), ...(await readdir(path.join(t.dataDir, "tmp")))];
  return {
    requests: await db.request.count(),
    keys: await db.requestKey.count(),
    agreements: await db.agreement.count(),
    files: files.length,
    emails: await db.outboxEmail.count(),
    events: await db.auditEvent.count(),
    usedFormTokens: await db.requestFormToken.count({ where: { usedAt: { not: null } } }),
    linkTokens: await db.linkToken.count(),
    staff: await db.staff.count(),
    settings: await db.setting.count(),
    batches: await db.batch.count(),
    revocations: await db.revocation.count(),
  };
}
