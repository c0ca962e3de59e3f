/** The rules about a result as a whole and about each item's answer, before any signature is looked at. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { inspectionConfig } from "../../../src/core/openpgp-config.ts";
import { makeCertification, makeRevocation, userIdBytes } from "../../../src/core/transfer/certification.ts";
import { FORMAT_VERSION, type BatchPayload, type CertifyItem, type ResultItem, type ResultPayload } from "../../../src/core/transfer/formats.ts";
import { sealedRevocationText } from "../../../src/core/transfer/revocation-text.ts";
import { checkResult, type ResultProblem } from "../../../src/core/transfer/result-check.ts";
import { makeTestKey } from "../../helpers/keys.ts";
import { certifyItem, makeMasterKey, ORGANISATION } from "../../helpers/transfer.ts";

const CREATED = new Date("2026-11-24T12:00:00Z");
const AT = new Date("2026-11-24T12:05:00Z");
const SEALED_AT = new Date("2026-11-24T12:05:01Z");
const NOW = new Date("2026-11-24T13:00:00Z");

let master: openpgp.PrivateKey;
let item: CertifyItem;
let batch: BatchPayload;
let answer: Extract<ResultItem, { status: "certified" }>;

before(async () => {
  master = (await makeMasterKey({ date: new Date("2026-01-01T00:00:00Z") })).privateKey;
  const key = await makeTestKey([{ name: "Ann", email: "ann@example.org" }, { name: "Ann", email: "ann@work.example" }]);
  item = await certifyItem(key, ["Ann <ann@example.org>", "Ann <ann@work.example>"], { id: "item-1", now: CREATED });
  batch = {
    format: "keysign-batch", version: FORMAT_VERSION, batch: 7, portal: "https://portal.example", organisation: ORGANISATION,
    createdAt: CREATED.toISOString(), expiresAt: new Date(CREATED.getTime() + 14 * 86_400_000).toISOString(),
    queueKey: "A".repeat(40), master: master.getFingerprint().toUpperCase(), items: [item],
  };
  const packet = (await openpgp.readKey({ binaryKey: new Uint8Array(Buffer.from(item.key, "base64")) })).keyPacket as openpgp.PublicKeyPacket;
  const userIds = [];
  for (const userId of item.userIds) {
    const target = { key: packet, userId: userIdBytes(userId) };
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
    const revocation = await makeRevocation(master, target, sealedRevocationText(ORGANISATION, item.statusUrl), SEALED_AT);
    userIds.push({ userId, certification: b64(await makeCertification(master, target, item.certification, AT)), revocation: b64(revocation) });
  }
  answer = { id: item.id, status: "certified", userIds };
});

function result(edit: (payload: ResultPayload) => void = () => undefined): ResultPayload {
  const payload: ResultPayload = { format: "keysign-result", version: FORMAT_VERSION, batch: 7, batchSha256: "b".repeat(64), master: batch.master, signedAt: AT.toISOString(), items: [structuredClone(answer)] };
  edit(payload);
  return payload;
}

async function problems(payload: ResultPayload): Promise<ResultProblem[]> {
  const checked = await checkResult(payload, { batch, batchSha256: "b".repeat(64), master: master.toPublic(), now: NOW, config: inspectionConfig({ minRsaBits: 2048 }) });
  return checked.ok ? [] : checked.problems;
}

const rules = (found: ResultProblem[]) => found.map((p) => `${p.itemId ?? "result"}:${p.rule}`);

describe("checkResult", () => {
  it("accepts the answer the batch asked for", async () => {
    const checked = await checkResult(result(), { batch, batchSha256: "b".repeat(64), master: master.toPublic(), now: NOW, config: inspectionConfig({ minRsaBits: 2048 }) });
    assert.equal(checked.ok, true);
    assert.deepEqual(checked.ok && checked.outcomes.map((o) => o.kind), ["certified"]);
  });

  it("refuses a result for another batch number, batch file or master", async () => {
    assert.deepEqual(rules(await problems(result((p) => void (p.batch = 8)))), ["result:batch"]);
    assert.deepEqual(rules(await problems(result((p) => void (p.batchSha256 = "c".repeat(64))))), ["result:batch"]);
    assert.deepEqual(rules(await problems(result((p) => void (p.master = "F".repeat(40))))), ["result:master"]);
  });

  it("refuses an item answered twice, an answer to no item, and an item left unanswered", async () => {
    assert.deepEqual(rules(await problems(result((p) => p.items.push(structuredClone(answer))))), ["item-1:item"]);
    assert.deepEqual(rules(await problems(result((p) => p.items.push({ id: "stranger", status: "declined", reason: "x" })))), ["stranger:item"]);
    assert.deepEqual(rules(await problems(result((p) => void (p.items = [])))), ["item-1:item"]);
  });

  it("refuses a certify item answered as revoked", async () => {
    const found = await problems(result((p) => void (p.items = [{ id: "item-1", status: "revoked", revocations: [{ userId: "Ann <ann@example.org>", revocation: answer.userIds[0]?.revocation ?? "" }] }])));
    assert.deepEqual(rules(found), ["item-1:status"]);
  });

  it("refuses a missing approved user ID and a user ID answered twice", async () => {
    const missing = await problems(result((p) => { const first = p.items[0]; if (first?.status === "certified") first.userIds.pop(); }));
    assert.deepEqual(rules(missing), ["item-1:user-id"]);
    assert.match(missing[0]?.message ?? "", /missing from the result \(partially signed item\)/);
    const twice = await problems(result((p) => { const first = p.items[0]; if (first?.status === "certified" && first.userIds[0]) first.userIds[1] = structuredClone(first.userIds[0]); }));
    assert.deepEqual(rules(twice).sort(), ["item-1:user-id", "item-1:user-id"]);
  });

  it("takes an explicit decline as an answer", async () => {
    const checked = await checkResult(result((p) => void (p.items = [{ id: "item-1", status: "declined", reason: "unsigned agreement" }])), { batch, batchSha256: "b".repeat(64), master: master.toPublic(), now: NOW, config: inspectionConfig({ minRsaBits: 2048 }) });
    assert.deepEqual(checked.ok && checked.outcomes.map((o) => o.kind === "declined" && o.reason), ["unsigned agreement"]);
  });

  it("refuses a sealed revocation in the same second as its certification (time), or that says anything else (reason)", async () => {
    const packet = (await openpgp.readKey({ binaryKey: new Uint8Array(Buffer.from(item.key, "base64")) })).keyPacket as openpgp.PublicKeyPacket;
    const target = { key: packet, userId: userIdBytes("Ann <ann@example.org>") };
    const sealedWith = async (text: string, date: Date) => {
      const revocation = Buffer.from(await makeRevocation(master, target, text, date)).toString("base64");
      return result((p) => {
        const first = p.items[0];
        if (first?.status === "certified" && first.userIds[0]) first.userIds[0].revocation = revocation;
      });
    };
    const sameSecond = await problems(await sealedWith(sealedRevocationText(ORGANISATION, item.statusUrl), AT));
    assert.deepEqual(rules(sameSecond), ["item-1:time"]);
    assert.match(sameSecond[0]?.message ?? "", /sealed revocation of "Ann <ann@example.org>": .*at least one second younger/);
    assert.deepEqual(rules(await problems(await sealedWith(sealedRevocationText(ORGANISATION, item.statusUrl), SEALED_AT))), [], "the test's own variant passes");
    assert.deepEqual(rules(await problems(await sealedWith("sealed revocation; held by the portal for an emergency", SEALED_AT))), ["item-1:reason"]);
    assert.deepEqual(rules(await problems(await sealedWith(sealedRevocationText("Another Org", item.statusUrl), SEALED_AT))), ["item-1:reason"]);
  });
});
