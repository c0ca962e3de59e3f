/**
 * Parallel tries of one form with the same held set (a double click, two tabs): every held file
 * on disk is named by exactly one set, so none waits an hour for the stray sweep.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser, MultipartPart } from "../helpers/http.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { AGREEMENT_PDF } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";

const ROUNDS = 4;
const PARALLEL = 2;
/** Large enough that writing it takes a while, so the tries overlap the way real uploads do. */
const LARGE_PDF = Buffer.concat([AGREEMENT_PDF, Buffer.alloc(4 * 1024 * 1024, 0x20)]);

function handleIn(html: string): string {
  return /name="heldFiles" value="([^"]+)"/.exec(html)?.[1] ?? "";
}

describe("parallel tries with one held set", () => {
  let t: TestApp;

  // A fresh portal per case, so each counts only its own held files.
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  async function heldFiles(): Promise<string[]> {
    return readdir(path.join(t.dataDir, "held")).catch(() => []);
  }

  /** Step two without a licence, so the form stays open and its valid files are held. */
  function parts(key: TestKey, address: string, extra: MultipartPart[]): MultipartPart[] {
    return [
      { name: "keyText", value: key.publicArmored },
      { name: "certifyUserIds", value: `Dev <${address}>` },
      { name: "licence", value: "" },
      ...extra,
    ];
  }

  async function heldSet(address: string): Promise<{ browser: Browser; key: TestKey; handle: string }> {
    const browser = await signInAs(t, address);
    const key = await makeTestKey([{ name: "Dev", email: address }]);
    const first = await browser.postMultipart("/requests", parts(key, address, [{ name: "agreement", filename: "first.pdf", content: AGREEMENT_PDF }]), "/requests/new");
    assert.equal(first.statusCode, 400);
    const handle = handleIn(first.body);
    assert.ok(handle, "the first try holds its agreement");
    return { browser, key, handle };
  }

  /** The one set left, whose file is on disk and is the only held file. */
  async function assertOneSetOneFile(round: number): Promise<void> {
    const rows = await t.app.db.heldUpload.findMany();
    assert.equal(rows.length, 1, `round ${round}: one held set`);
    assert.deepEqual(await heldFiles(), [rows[0]?.agreementStorageName], `round ${round}: exactly the file the set names is on disk`);
  }

  it("replacing the held agreement from parallel tries leaves one file per set, not one per try", async () => {
    const address = "double-click@example.org";
    const { browser, key, handle } = await heldSet(address);
    for (let round = 1; round <= ROUNDS; round++) {
      const tries = Array.from({ length: PARALLEL }, (_, i) =>
        browser.postMultipart(
          "/requests/refresh",
          parts(key, address, [{ name: "heldFiles", value: handle }, { name: "agreement", filename: `try-${round}-${i}.pdf`, content: LARGE_PDF }]),
          "/requests/new",
        ),
      );
      for (const response of await Promise.all(tries)) {
        assert.equal(response.statusCode, 200, response.body.slice(0, 500));
        assert.equal(handleIn(response.body), handle, "the tries keep using the same set");
      }
      await assertOneSetOneFile(round);
    }
  });

  it("a try that keeps the held agreement, finishing after one that replaced it, never points the set at a removed file", async () => {
    const address = "two-tabs@example.org";
    const { handle } = await heldSet(address);
    const applicantId = (await t.app.db.applicant.findUniqueOrThrow({ where: { email: address } })).id;
    const held = t.app.requests.held;
    // Both tabs read the set before either keeps its files: the order a slow upload beside a quick try gives.
    const replacing = await held.take(applicantId, "new", handle);
    const keeping = await held.take(applicantId, "new", handle);
    assert.ok(keeping.agreement, "the second tab uses the held agreement");
    await held.keep(applicantId, "new", replacing, { agreement: { bytes: LARGE_PDF, fileName: "new.pdf", fromHeld: false }, signature: null });
    await held.keep(applicantId, "new", keeping, { agreement: keeping.agreement, signature: null });
    await assertOneSetOneFile(1);
    const again = await held.take(applicantId, "new", handle);
    assert.equal(again.agreement?.fileName, "first.pdf", "the last try's agreement is the one kept");
    assert.equal(again.agreement?.bytes.length, AGREEMENT_PDF.length, "and its file reads back");
  });

  it("a try whose set went meanwhile keeps its file in a new set; one whose write fails leaves no new file", async () => {
    const address = "late@example.org";
    const { handle } = await heldSet(address);
    const applicantId = (await t.app.db.applicant.findUniqueOrThrow({ where: { email: address } })).id;
    const held = t.app.requests.held;
    const newAgreement = { agreement: { bytes: AGREEMENT_PDF, fileName: "new.pdf", fromHeld: false }, signature: null };
    const swept = await held.take(applicantId, "new", handle);
    await held.discard(swept.id);
    const kept = await held.keep(applicantId, "new", swept, newAgreement);
    assert.notEqual(kept?.handle, handle, "a new set, with a new handle");
    await assertOneSetOneFile(1);

    const before = await heldFiles();
    const taken = await held.take(applicantId, "new", kept?.handle ?? "");
    // A database that refuses writes (full disk, locked file) fails the swap after the file is written.
    await t.app.db.$queryRawUnsafe("PRAGMA query_only = ON");
    try {
      await assert.rejects(held.keep(applicantId, "new", taken, newAgreement));
    } finally {
      await t.app.db.$queryRawUnsafe("PRAGMA query_only = OFF");
    }
    assert.deepEqual(await heldFiles(), before, "the file written for the failed try is removed again");
    await assertOneSetOneFile(2);
  });
});
