import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { queueCertifiedKeyEmails } from "../../src/services/certified-delivery.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, type CertifiedRequest } from "../helpers/certified.ts";
import { colonRecords, unescapeColonField, withGpgHome, type GpgHome } from "../helpers/gpg.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { submissionParts } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { mailAttachments, mailText, TestSmtpServer, type ReceivedMail } from "../helpers/smtp.ts";

describe("certified keys by email, one user ID per message", () => {
  let smtp: TestSmtpServer;
  let t: TestApp;

  before(async () => {
    smtp = new TestSmtpServer();
    t = await createTestApp({ SMTP_URL: await smtp.start() });
  });
  after(async () => {
    await t.close();
    await smtp.stop();
  });

  /** A request for `key`'s user IDs by the applicant signed in as the first address; the others are confirmed first. */
  async function submitFor(key: TestKey, addresses: string[], userIds: string[]): Promise<string> {
    const applicant = await signInAs(t, addresses[0] ?? "");
    const { id: applicantId } = await t.app.db.applicant.findUniqueOrThrow({ where: { email: addresses[0] } });
    for (const address of addresses.slice(1)) {
      await t.app.db.emailAddress.create({ data: { id: randomUUID(), applicantId, address, confirmedAt: t.clock.now } });
    }
    const parts = await submissionParts(key, userIds[0] ?? "");
    parts.push(...userIds.slice(1).map((value) => ({ name: "certifyUserIds", value })));
    const response = await applicant.postMultipart("/requests", parts, "/requests/new");
    assert.equal(response.statusCode, 303, response.body.slice(0, 500));
    return String(response.headers.location).split("/").pop() ?? "";
  }

  /** Queues the emails in a transaction, as the import does, and delivers them; only they are in `smtp.received`. */
  async function queue(requestId: string, certified: CertifiedRequest) {
    await t.app.mail.deliverDue();
    smtp.received.length = 0;
    await t.app.db.$transaction((tx) =>
      queueCertifiedKeyEmails(tx, {
        requestId,
        fingerprint: certified.fingerprint,
        canonicalKey: certified.canonicalKey,
        certifications: certified.certifications.map(({ userId, certification }) => ({ userId, certification })),
        config: t.config,
        now: t.clock.now,
      }),
    );
    await t.app.mail.deliverDue();
  }

  /** The master's certifications GnuPG reports as good, by user ID. */
  async function goodMasterCertifications(gpg: GpgHome, fingerprint: string, masterKeyId: string): Promise<string[]> {
    const records = colonRecords(await gpg.ok(["--with-colons", "--fixed-list-mode", "--check-sigs", `0x${fingerprint}`], { at: t.clock.now }));
    let uid = "";
    return records.flatMap((r) => {
      if (r[0] === "uid") uid = unescapeColonField(r[9] ?? "");
      return r[0] === "sig" && r[1] === "!" && r[4] === masterKeyId && r[10] === "10x" ? [uid] : [];
    });
  }

  function headerBlock(mail: ReceivedMail): string {
    return mail.raw.slice(0, mail.raw.search(/\r?\n\r?\n/));
  }

  it("sends each user ID's certification to that user ID's address, encrypted to the key, and GnuPG decrypts and imports it", async () => {
    const key = await makeTestKey([{ name: "Dev", email: "dev@example.org" }, { name: "Dev at Work", email: "dev@work.example" }]);
    const userIds = ["Dev <dev@example.org>", "Dev at Work <dev@work.example>"];
    const id = await submitFor(key, ["dev@example.org", "dev@work.example"], userIds);
    const certified = await certifyRequest(t, id);
    await queue(id, certified);

    assert.deepEqual(smtp.received.map((m) => m.to).sort(), [["dev@example.org"], ["dev@work.example"]]);
    const masterKeyId = certified.master.getKeyID().toHex().toUpperCase();
    for (const [userId, address] of [[userIds[0], "dev@example.org"], [userIds[1], "dev@work.example"]] as const) {
      const mail = smtp.received.find((m) => m.to.includes(address));
      assert.ok(mail);
      // Fixed subject; the user ID (hostile text) stays out of every header.
      assert.match(headerBlock(mail), /^Subject: Your key is certified\r?$/m);
      assert.doesNotMatch(headerBlock(mail), /Dev at Work|Dev </);
      const body = mailText(mail);
      assert.match(body, new RegExp(`gpg --decrypt ${certified.fingerprint}-certified\\.asc\\.gpg \\| gpg --import`));
      assert.match(body, new RegExp(`${t.config.PUBLIC_URL}/requests/${id}`));
      const [attachment, ...more] = mailAttachments(mail);
      assert.equal(more.length, 0);
      assert.equal(attachment?.filename, `${certified.fingerprint}-certified.asc.gpg`);
      assert.match(attachment?.content.toString("utf8") ?? "", /^-----BEGIN PGP MESSAGE-----/);

      const good = await withGpgHome(async (gpg) => {
        await gpg.ok(["--import"], { input: key.privateArmored, at: t.clock.now });
        await gpg.ok(["--import"], { input: certified.master.toPublic().armor(), at: t.clock.now });
        const decrypted = await gpg.ok(["--decrypt"], { input: attachment?.content, at: t.clock.now });
        assert.match(decrypted.toString("utf8"), /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
        await gpg.ok(["--import"], { input: decrypted, at: t.clock.now });
        return goodMasterCertifications(gpg, certified.fingerprint, masterKeyId);
      });
      assert.deepEqual(good, [userId], "exactly this user ID carries the master certification");
    }
    const rows = await t.app.db.outboxEmail.findMany({ where: { template: "request-certified" } });
    assert.equal(rows.length, 2);
    assert.ok(rows.every((row) => row.status === "sent"));
  });

  it("sends the plain key to a key with no encryption subkey, and GnuPG imports it as it is", async () => {
    const key = await makeTestKey([{ name: "Signer", email: "signer@example.org" }], { encryptionSubkey: false });
    const id = await submitFor(key, ["signer@example.org"], ["Signer <signer@example.org>"]);
    const certified = await certifyRequest(t, id);
    await queue(id, certified);

    const [mail, ...others] = smtp.received;
    assert.ok(mail);
    assert.equal(others.length, 0);
    assert.deepEqual(mail.to, ["signer@example.org"]);
    assert.match(mailText(mail), new RegExp(`gpg --import ${certified.fingerprint}-certified\\.asc`));
    assert.doesNotMatch(mailText(mail), /gpg --decrypt/);
    const [attachment] = mailAttachments(mail);
    assert.equal(attachment?.filename, `${certified.fingerprint}-certified.asc`);
    assert.equal(attachment?.contentType, "application/pgp-keys");
    // With the CRC line: GnuPG 2.2 cannot read some armored keys without it.
    assert.match(attachment?.content.toString("utf8") ?? "", /\n=[A-Za-z0-9+/]{4}\n-----END PGP PUBLIC KEY BLOCK-----\n$/);
    const good = await withGpgHome(async (gpg) => {
      await gpg.ok(["--import"], { input: certified.master.toPublic().armor(), at: t.clock.now });
      await gpg.ok(["--import"], { input: attachment?.content, at: t.clock.now });
      return goodMasterCertifications(gpg, certified.fingerprint, certified.master.getKeyID().toHex().toUpperCase());
    });
    assert.deepEqual(good, ["Signer <signer@example.org>"]);
  });

  it("sends to the sign-in address when the user ID's address is no longer confirmed", async () => {
    const key = await makeTestKey([{ name: "Lee", email: "lee@example.org" }, { name: "Lee", email: "lee@old.example" }]);
    const id = await submitFor(key, ["lee@example.org", "lee@old.example"], ["Lee <lee@example.org>", "Lee <lee@old.example>"]);
    const certified = await certifyRequest(t, id);
    await t.app.db.emailAddress.updateMany({ where: { address: "lee@old.example" }, data: { confirmedAt: null } });
    await queue(id, certified);
    assert.deepEqual(smtp.received.map((m) => m.to), [["lee@example.org"], ["lee@example.org"]]);
  });

  it("queues nothing when a certification names a user ID the key does not have", async () => {
    const key = await makeTestKey([{ name: "Kim", email: "kim@example.org" }]);
    const id = await submitFor(key, ["kim@example.org"], ["Kim <kim@example.org>"]);
    const certified = await certifyRequest(t, id);
    const before = await t.app.db.outboxEmail.count();
    const forged = { ...certified, certifications: [...certified.certifications, { ...certified.certifications[0]!, userId: "Kim <kim@evil.example>" }] };
    await assert.rejects(queue(id, forged), /user ID the key does not have/);
    assert.equal(await t.app.db.outboxEmail.count(), before);
  });
});
