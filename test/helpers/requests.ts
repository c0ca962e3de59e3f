import { readFile } from "node:fs/promises";
import path from "node:path";
import type { TestApp } from "./app.ts";
import type { Browser } from "./http.ts";
import { makeTestKey, type TestKey } from "./keys.ts";
import { signInAs } from "./session.ts";

export const AGREEMENT_PDF = await readFile(path.resolve(import.meta.dirname, "../../public/keysign-agreement.pdf"));

/** Submits a request through the applicant's real form; returns its id, the key and the applicant's browser. */
export async function submitRequest(t: TestApp, address: string, name = "Dev"): Promise<{ id: string; key: TestKey; applicant: Browser }> {
  const key = await makeTestKey([{ name, email: address }]);
  const applicant = await signInAs(t, address);
  const response = await applicant.postMultipart(
    "/requests",
    [
      { name: "keyText", value: key.publicArmored },
      { name: "certifyUserIds", value: `${name} <${address}>` },
      { name: "licence", value: "GPL-3.0-or-later" },
      { name: "projectUrls", value: "https://github.com/dev/module" },
      { name: "attestOpenSource", value: "on" },
      { name: "attestNotCommercial", value: "on" },
      { name: "attestAgreement", value: "on" },
      { name: "agreement", filename: "agreement.pdf", content: AGREEMENT_PDF },
      { name: "signature", filename: "agreement.pdf.asc", content: Buffer.from(await key.sign(AGREEMENT_PDF)) },
    ],
    "/requests/new",
  );
  if (response.statusCode !== 303) throw new Error(`submission failed with ${response.statusCode}`);
  const id = (response.headers.location ?? "").split("/").pop() ?? "";
  return { id, key, applicant };
}
