import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { sealEnvelope } from "../../../src/core/transfer/envelope.ts";
import { encodePayload, parseEnvelope } from "../../../src/core/transfer/formats.ts";
import { openBatch, type BatchPins } from "../../../src/core/transfer/sign-batch.ts";
import { makeTestKey } from "../../helpers/keys.ts";
import { certifyItem, makeBatchFile, makeMasterKey, makeQueueKey, sealBatch, type BatchFile, type SigningKey } from "../../helpers/transfer.ts";

const HOUR = 3_600_000;

let queue: SigningKey;
let master: SigningKey;
let pins: BatchPins;
let good: BatchFile;

before(async () => {
  [queue, master] = await Promise.all([makeQueueKey(), makeMasterKey()]);
  pins = { queueKey: queue.publicKey, master: master.fingerprint };
  const bob = await makeTestKey([{ name: "Bob", email: "bob@example.org" }]);
  good = await makeBatchFile({ queueKey: queue, master: master.fingerprint, items: [await certifyItem(bob, ["Bob <bob@example.org>"])] });
});

/** The file with one byte of its decoded payload (or signature) changed, re-encoded so the JSON stays valid. */
function tamper(file: Uint8Array, part: "payload" | "signature"): Uint8Array {
  const envelope = parseEnvelope(file);
  if (part === "payload") {
    const payload = Buffer.from(envelope.payload, "base64");
    payload[20] = (payload[20] ?? 0) ^ 0x01;
    return sealEnvelope("batch", payload, envelope.signature);
  }
  const lines = envelope.signature.split("\n");
  const index = lines.findIndex((line) => line.length > 40);
  const line = lines[index]!;
  lines[index] = line.slice(0, 10) + (line[10] === "A" ? "B" : "A") + line.slice(11);
  return sealEnvelope("batch", Buffer.from(envelope.payload, "base64"), lines.join("\n"));
}

describe("openBatch", () => {
  it("opens a batch signed by the pinned queue key", async () => {
    const opened = await openBatch(good.file, pins, new Date());
    assert.equal(opened.sha256, good.sha256);
    assert.deepEqual(opened.batch, good.payload);
  });

  it("refuses a batch whose payload changed by one bit", async () => {
    await assert.rejects(openBatch(tamper(good.file, "payload"), pins, new Date()), { code: "KEYSIGN_ERR_TRANSFER_SIGNATURE", message: /changed after it was signed/ });
  });

  it("refuses a batch whose signature changed by one character", async () => {
    await assert.rejects(openBatch(tamper(good.file, "signature"), pins, new Date()), (error: { code?: string }) => {
      assert.match(error.code ?? "", /^KEYSIGN_ERR_TRANSFER_(SIGNATURE|SIGNER)$/);
      return true;
    });
  });

  it("refuses a batch signed by another key", async () => {
    const other = await makeQueueKey();
    const forged = await sealBatch({ ...good.payload, queueKey: other.fingerprint }, other.privateKey, new Date(Date.now() - HOUR));
    await assert.rejects(openBatch(forged.file, pins, new Date()), { code: "KEYSIGN_ERR_TRANSFER_SIGNER" });
  });

  it("refuses a batch signed by a subkey of the queue key", async () => {
    const date = new Date(Date.now() - 24 * HOUR);
    const { privateKey } = await openpgp.generateKey({
      type: "ecc",
      curve: "ed25519Legacy",
      userIDs: [{ name: "Queue", email: "queue@portal.example" }],
      subkeys: [{ sign: true }],
      date,
      format: "object",
    });
    const subkey = privateKey.subkeys[0]!;
    const bytes = encodePayload({ ...good.payload, queueKey: privateKey.getFingerprint().toUpperCase() });
    const signature = await openpgp.sign({
      message: await openpgp.createMessage({ binary: bytes }),
      signingKeys: privateKey,
      signingKeyIDs: subkey.getKeyID(),
      detached: true,
      format: "armored",
      date: new Date(date.getTime() + HOUR),
    });
    const file = sealEnvelope("batch", bytes, signature);
    await assert.rejects(openBatch(file, { queueKey: privateKey.toPublic(), master: master.fingerprint }, new Date()), {
      code: "KEYSIGN_ERR_TRANSFER_SIGNER",
      message: /Only the queue key's primary key is accepted/,
    });
  });

  it("refuses a result file where a batch is expected", async () => {
    const envelope = parseEnvelope(good.file);
    const file = sealEnvelope("result", Buffer.from(envelope.payload, "base64"), envelope.signature);
    await assert.rejects(openBatch(file, pins, new Date()), { code: "KEYSIGN_ERR_TRANSFER_KIND" });
  });

  it("refuses an expired batch", async () => {
    const createdAt = new Date(Date.now() - 48 * HOUR);
    const expired = await makeBatchFile({ queueKey: queue, master: master.fingerprint, items: good.payload.items, createdAt, expiresAt: new Date(Date.now() - HOUR) });
    await assert.rejects(openBatch(expired.file, pins, new Date()), { code: "KEYSIGN_ERR_BATCH_EXPIRED" });
  });

  it("refuses a batch created after this machine's time (the clock may be wrong)", async () => {
    await assert.rejects(openBatch(good.file, pins, new Date(Date.now() - 2 * HOUR)), { code: "KEYSIGN_ERR_BATCH_CLOCK", message: /clock may be wrong/ });
  });

  it("refuses a batch for another master", async () => {
    await assert.rejects(openBatch(good.file, { ...pins, master: "A".repeat(40) }, new Date()), { code: "KEYSIGN_ERR_BATCH_MASTER" });
  });

  it("refuses a batch naming another queue key than the one that signed it", async () => {
    const named = await sealBatch({ ...good.payload, queueKey: "B".repeat(40) }, queue.privateKey, new Date(Date.now() - HOUR));
    await assert.rejects(openBatch(named.file, pins, new Date()), { code: "KEYSIGN_ERR_BATCH_QUEUE_KEY" });
  });

  it("refuses a batch listing one item twice", async () => {
    const [item] = good.payload.items;
    const twice = await sealBatch({ ...good.payload, items: [item!, item!] }, queue.privateKey, new Date(Date.now() - HOUR));
    await assert.rejects(openBatch(twice.file, pins, new Date()), { code: "KEYSIGN_ERR_BATCH_DUPLICATE" });
  });

  it("refuses a file that is not a transfer file", async () => {
    await assert.rejects(openBatch(new TextEncoder().encode("{}"), pins, new Date()), { code: "KEYSIGN_ERR_TRANSFER_FORMAT" });
    await assert.rejects(openBatch(good.file.subarray(0, 100), pins, new Date()), { code: "KEYSIGN_ERR_TRANSFER_FORMAT" });
  });
});
