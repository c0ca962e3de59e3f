import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { scanPackets } from "../../../src/core/key-policy/packets.ts";
import { parseSignature } from "../../../src/core/key-policy/structure.ts";
import { openEnvelope, sha256Hex } from "../../../src/core/transfer/envelope.ts";
import { parseResultPayload, type BatchItem, type CertifiedResult, type ResultItem } from "../../../src/core/transfer/formats.ts";
import type { MasterSigner } from "../../../src/core/transfer/master-signer.ts";
import {
  OFFICER_DECLINED,
  openBatch,
  signBatch,
  type Decision,
  type ItemReview,
  type SignBatchOptions,
} from "../../../src/core/transfer/sign-batch.ts";
import { openSoftwareSigner } from "../../../src/core/transfer/software-signer.ts";
import { makeTestKey, type TestKey } from "../../helpers/keys.ts";
import { assertPortalAccepts, certifyItem, makeBatchFile, makeMasterKey, makeQueueKey, ORGANISATION, revocationReason, revokeItem, type BatchFile, type SigningKey } from "../../helpers/transfer.ts";

const PASSPHRASE = "correct horse battery staple";
const ALICE = "Alice Example <alice@example.org>";
const ALICE_WORK = "Alice Work <alice@work.example>";
const BOB = "Bob Example <bob@example.org>";

let queue: SigningKey;
let master: SigningKey;
let alice: TestKey;
let bob: TestKey;

before(async () => {
  [queue, master, alice, bob] = await Promise.all([
    makeQueueKey(),
    makeMasterKey({ passphrase: PASSPHRASE }),
    makeTestKey([
      { name: "Alice Example", email: "alice@example.org" },
      { name: "Alice Work", email: "alice@work.example" },
    ]),
    makeTestKey([{ name: "Bob Example", email: "bob@example.org" }]),
  ]);
});

function signer(key: SigningKey = master): Promise<MasterSigner> {
  return openSoftwareSigner({ armoredSecretKey: key.secretArmored, passphrase: PASSPHRASE, fingerprint: key.fingerprint, now: new Date() });
}

interface Run {
  batch: BatchFile;
  batchCreated: Date;
  result: Awaited<ReturnType<typeof signBatch>>;
  asked: string[];
  refused: ItemReview[];
  progress: Array<[number, number]>;
}

async function sign(items: BatchItem[], decide: (review: ItemReview) => Decision = () => ({ approve: true }), overrides: Partial<SignBatchOptions> = {}): Promise<Run> {
  const batch = await makeBatchFile({ queueKey: queue, master: master.fingerprint, items });
  const opened = await openBatch(batch.file, { queueKey: queue.publicKey, master: master.fingerprint }, new Date());
  const asked: string[] = [];
  const refused: ItemReview[] = [];
  const progress: Array<[number, number]> = [];
  const used = await signer();
  try {
    const result = await signBatch({
      opened,
      signer: used,
      master: master.publicKey,
      decide: async (review) => {
        asked.push(review.item.id);
        return decide(review);
      },
      refused: (review) => refused.push(review),
      progress: (done, total) => progress.push([done, total]),
      now: () => new Date(),
      ...overrides,
    });
    return { batch, batchCreated: new Date(batch.payload.createdAt), result, asked, refused, progress };
  } finally {
    await used.close();
  }
}

function createdAt(packet: Uint8Array): number {
  const [first] = scanPackets(packet).packets;
  return parseSignature(first!.body)!.packet.created!.getTime();
}

function declined(items: ResultItem[], id: string): string {
  const found = items.find((item) => item.id === id);
  assert.equal(found?.status, "declined", `item ${id} should be declined`);
  return found.reason;
}

describe("signBatch with the software signer", () => {
  it("certifies every approved user ID, seals a revocation for each, and the portal's checks pass", async () => {
    const one = await certifyItem(alice, [ALICE, ALICE_WORK]);
    const two = await certifyItem(bob, [BOB]);
    const run = await sign([one, two]);
    const opened = await openEnvelope(run.result.file, "result", master.publicKey, "master key");
    const payload = parseResultPayload(opened.payload);
    assert.deepEqual(payload, run.result.payload);
    assert.deepEqual(run.result.counts, { certified: 2, revoked: 0, declined: 0 });
    assert.deepEqual(payload.items.map((item) => item.id), [one.id, two.id]);
    // Three certifications (Alice has two user IDs), then their three sealed revocations.
    assert.deepEqual(run.progress, [1, 2, 3, 4, 5, 6].map((done) => [done, 6]));
    const outcomes = await assertPortalAccepts(run.result.file, run.batch, master.publicKey);
    for (const [item, outcome] of [[one, outcomes[0]], [two, outcomes[1]]] as const) {
      assert.equal(outcome?.kind, "certified");
      const certified = outcome.kind === "certified" ? outcome.userIds : [];
      assert.deepEqual(certified.map((entry) => entry.userId), item.userIds);
      for (const entry of certified) {
        assert.deepEqual(revocationReason(entry.revocation), [0, `Certification withdrawn by ${ORGANISATION}; the reason and date are at ${item.statusUrl}`]);
        assert.equal(createdAt(entry.revocation) - createdAt(entry.certification), 1000, "the sealed revocation is one second younger");
      }
    }
  });

  it("binds the result to the exact batch file and to the master", async () => {
    const batch = await makeBatchFile({ queueKey: queue, master: master.fingerprint, items: [await certifyItem(bob, [BOB])] });
    const opened = await openBatch(batch.file, { queueKey: queue.publicKey, master: master.fingerprint }, new Date());
    const used = await signer();
    const { payload } = await signBatch({ opened, signer: used, master: master.publicKey, decide: async () => ({ approve: true }), now: () => new Date() });
    assert.equal(payload.batchSha256, sha256Hex(batch.file));
    assert.equal(payload.master, master.fingerprint);
    assert.equal(payload.batch, 1);
    assert.match(payload.signedAt, /:\d\d\.000Z$/);
  });

  it("declines what the officer declines, with the default or the typed reason", async () => {
    const items = [await certifyItem(bob, [BOB]), await certifyItem(bob, [BOB]), await certifyItem(alice, [ALICE])];
    const answers: Decision[] = [{ approve: false, reason: "" }, { approve: false, reason: "  agreement unreadable  " }, { approve: true }];
    const run = await sign(items, () => answers.shift()!);
    assert.equal(declined(run.result.payload.items, items[0]!.id), OFFICER_DECLINED);
    assert.equal(declined(run.result.payload.items, items[1]!.id), "agreement unreadable");
    assert.equal(run.result.payload.items[2]?.status, "certified");
    assert.deepEqual(run.result.counts, { certified: 1, revoked: 0, declined: 2 });
  });

  it("writes a result even when every item is declined", async () => {
    const item = await certifyItem(bob, [BOB]);
    const run = await sign([item], () => ({ approve: false, reason: "not today" }));
    assert.deepEqual(run.result.counts, { certified: 0, revoked: 0, declined: 1 });
    assert.deepEqual(run.progress, []);
    await openEnvelope(run.result.file, "result", master.publicKey, "master key");
  });
});

describe("signBatch re-checks every item (defence in depth)", () => {
  it("declines a key whose bytes changed after approval (keySha256), without asking", async () => {
    const good = await certifyItem(alice, [ALICE]);
    const other = await certifyItem(alice, [ALICE, ALICE_WORK]);
    const changed = { ...good, key: other.key };
    const run = await sign([changed]);
    assert.match(declined(run.result.payload.items, changed.id), /^refused by the signer: the key's bytes do not match the SHA-256 recorded at approval/);
    assert.deepEqual(run.asked, []);
    assert.equal(run.refused.length, 1);
  });

  it("declines a key whose fingerprint is not the approved one", async () => {
    const good = await certifyItem(alice, [ALICE]);
    const wrong = { ...good, fingerprint: (await certifyItem(bob, [BOB])).fingerprint };
    const run = await sign([wrong]);
    assert.match(declined(run.result.payload.items, wrong.id), /fingerprint is .* not the approved/);
  });

  it("declines a user ID the key does not bind", async () => {
    const good = await certifyItem(bob, [BOB]);
    const unbound = { ...good, userIds: [BOB, "Mallory <mallory@example.org>"] };
    const run = await sign([unbound]);
    assert.match(declined(run.result.payload.items, unbound.id), /"Mallory <mallory@example.org>" is not bound to the key/);
  });

  it("declines a key that fails the intake policy now (expired since approval)", async () => {
    const expiring = await makeTestKey([{ name: "Carol", email: "carol@example.org" }], { expiresInSeconds: 86_400 });
    const item = await certifyItem(expiring, ["Carol <carol@example.org>"], { now: new Date("2026-01-01T12:00:00Z") });
    const run = await sign([item]);
    assert.match(declined(run.result.payload.items, item.id), /^refused by the signer: the key fails the intake policy now: .*expired/i);
  });

  it("signs the good items of a batch that also holds a refused one", async () => {
    const good = await certifyItem(bob, [BOB]);
    const bad = { ...(await certifyItem(alice, [ALICE])), keySha256: "0".repeat(64) };
    const run = await sign([bad, good]);
    assert.deepEqual(run.result.payload.items.map((item) => item.status), ["declined", "certified"]);
    assert.deepEqual(run.asked, [good.id]);
  });
});

describe("signBatch revocations", () => {
  it("revokes the master's certifications named by a revoke item, with the item's reason", async () => {
    const certify = await certifyItem(alice, [ALICE, ALICE_WORK]);
    const first = await sign([certify]);
    const certified = first.result.payload.items[0] as CertifiedResult;
    const certifications = certified.userIds.map((entry) => entry.certification);
    const revoke = await revokeItem(alice, [ALICE, ALICE_WORK], certifications, { reason: { code: "compromised", text: "the developer reported the key lost" } });
    const run = await sign([revoke]);
    const result = run.result.payload.items[0];
    assert.equal(result?.status, "revoked");
    assert.deepEqual(run.result.counts, { certified: 0, revoked: 1, declined: 0 });
    const [outcome] = await assertPortalAccepts(run.result.file, run.batch, master.publicKey);
    assert.equal(outcome?.kind, "revoked");
    for (const entry of outcome.kind === "revoked" ? outcome.revocations : []) {
      assert.deepEqual(revocationReason(entry.revocation), [0, `Certification withdrawn by ${ORGANISATION}: compromised: the developer reported the key lost. Details: ${revoke.statusUrl}`]);
    }
  });

  it("declines a revoke item whose certification is not the master's", async () => {
    const other = await makeMasterKey();
    const item = await certifyItem(bob, [BOB]);
    const batch = await makeBatchFile({ queueKey: queue, master: other.fingerprint, items: [item] });
    const openedOther = await openBatch(batch.file, { queueKey: queue.publicKey, master: other.fingerprint }, new Date());
    const byOther = await signBatch({
      opened: openedOther,
      signer: await openSoftwareSigner({ armoredSecretKey: other.secretArmored, passphrase: null, fingerprint: other.fingerprint, now: new Date() }),
      master: other.publicKey,
      decide: async () => ({ approve: true }),
      now: () => new Date(),
    });
    const foreign = (byOther.payload.items[0] as CertifiedResult).userIds[0]!.certification;
    const revoke = await revokeItem(bob, [BOB], [foreign]);
    const run = await sign([revoke]);
    assert.match(declined(run.result.payload.items, revoke.id), /none of the item's certifications is the master's certification of "Bob Example <bob@example.org>"/);
  });
});

describe("signBatch refuses a signer that breaks the rules", () => {
  it("writes nothing when a certification would fail the portal's check", async () => {
    const real = await signer();
    const sloppy: MasterSigner = {
      fingerprint: real.fingerprint,
      certify: (target, parameters, date) => real.certify(target, { ...parameters, validityDays: parameters.validityDays + 1 }, date),
      revoke: (target, reason, date) => real.revoke(target, reason, date),
      signFile: (payload, date) => real.signFile(payload, date),
      close: () => real.close(),
    };
    const item = await certifyItem(bob, [BOB]);
    const batch = await makeBatchFile({ queueKey: queue, master: master.fingerprint, items: [item] });
    const opened = await openBatch(batch.file, { queueKey: queue.publicKey, master: master.fingerprint }, new Date());
    await assert.rejects(
      signBatch({ opened, signer: sloppy, master: master.publicKey, decide: async () => ({ approve: true }), now: () => new Date() }),
      { code: "KEYSIGN_ERR_SIGNER_CHECK", message: /fail the portal's check, so nothing was written:\n {2}item [^:]+: expiry: certification of "Bob Example <bob@example.org>": it expires after/ },
    );
  });

  it("refuses a signer for another master", async () => {
    const other = await makeMasterKey();
    const item = await certifyItem(bob, [BOB]);
    await assert.rejects(
      sign([item], undefined, {
        signer: await openSoftwareSigner({ armoredSecretKey: other.secretArmored, passphrase: null, fingerprint: other.fingerprint, now: new Date() }),
      }),
      { code: "KEYSIGN_ERR_MASTER_KEY" },
    );
  });
});
