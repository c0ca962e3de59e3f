/**
 * Pushes published keys to upstream keyservers (PUBLISH_KEYSERVERS) through a durable outbox.
 * Nothing is written by the changes themselves: the worker derives what to push from the
 * published keys, at start and at every publication signal, so a signal missed (a crash, a
 * change made by another process) is caught up by the next pass. Rows are the truth; claims
 * carry a lease, as mail does, so a crash between steps loses nothing.
 */
import { createHash } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import { MAX_PUSH_ATTEMPTS, pushRetryDelayMs, type Keyserver } from "../core/publication/keyservers.ts";
import { publishedForm } from "../core/publication/published-key.ts";
import type { Db } from "../db/client.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import {
  claimDuePush,
  countPushes,
  findPush,
  listPushTargets,
  markPush,
  queuePush,
  recentPushes,
  releaseAllPushClaims,
  releasePush,
  reopenFailedPush,
  type PushRow,
} from "../repositories/keyserver-pushes.ts";
import { findPublishedKeys } from "../repositories/publication.ts";
import type { StaffActor } from "./context.ts";
import { postKey } from "./keyserver-post.ts";
import { armoredKeys } from "./publication.ts";

export interface KeyserverPushOptions {
  db: Db;
  log: FastifyBaseLogger;
  keyservers: readonly Keyserver[];
  /** The longest one push may take, from connecting to the end of the answer. */
  timeoutSeconds: number;
  now: () => Date;
}

/** A claimed push outlasts any push (the timeout is at most 2 minutes); a new worker releases claims at once. */
const LEASE_MS = 5 * 60_000;
/** Due pushes are looked for this often; the published keys are compared in full less often. */
const DELIVER_INTERVAL_MS = 30_000;
const SYNC_INTERVAL_MS = 5 * 60_000;
/** Rows per keyserver on the staff page. */
const RECENT_ROWS = 25;

/** Why a push that is not failed cannot be retried, by status. */
const NOT_RETRIABLE: Readonly<Record<string, string>> = {
  pending: "waiting to be sent already",
  sending: "being sent now",
  sent: "sent already",
  superseded: "replaced by a newer form of the key",
};

export interface KeyserverOverview {
  keyserver: string;
  counts: Record<string, number>;
  recent: PushRow[];
}

export class KeyserverPushService {
  private readonly stopping = new AbortController();
  private running: Promise<void> | null = null;
  /** Set by calls during a pass: run again, comparing the published keys first if `wantSync`. */
  private wantPass = false;
  private wantSync = false;
  private timers: NodeJS.Timeout[] = [];
  /** Set by start(): this process is the one that delivers (MAIL_WORKER). */
  private started = false;

  constructor(private readonly options: KeyserverPushOptions) {}

  /**
   * Queues what changed, then delivers everything due. A call during a pass makes the pass run
   * again, so what changed before the call is queued before the promise resolves. Never rejects.
   */
  run(): Promise<void> {
    return this.kick(true);
  }

  /** Delivers everything due, without looking for changed keys; joins a pass in progress. Never rejects. */
  deliverDue(): Promise<void> {
    return this.kick(false);
  }

  /** Releases claims of a process that died mid-push, runs once, then keeps delivering on a timer. */
  async start(): Promise<void> {
    if (this.options.keyservers.length === 0) return;
    this.started = true;
    const released = await releaseAllPushClaims(this.options.db, this.options.now());
    if (released > 0) this.options.log.warn({ released }, "released keyserver pushes claimed by a process that stopped mid-push");
    const every = (ms: number, work: () => Promise<unknown>) => {
      const timer = setInterval(() => void work(), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(DELIVER_INTERVAL_MS, () => this.deliverDue());
    every(SYNC_INTERVAL_MS, () => this.run());
    void this.run();
  }

  /** Stops: pushes in flight are interrupted and due again at the next start. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.stopping.abort();
    await this.running;
  }

  /**
   * Queues the published form of every published key for every keyserver, unless that exact
   * form was queued for it before. Returns how many pushes were queued.
   */
  async sync(): Promise<number> {
    const { db, keyservers, now } = this.options;
    if (keyservers.length === 0) return 0;
    const known = new Set((await listPushTargets(db)).map(targetKey));
    let queued = 0;
    for (const source of await findPublishedKeys(db)) {
      const sha256 = sha256Hex(publishedForm(source));
      for (const keyserver of keyservers) {
        const target = { keyserver: keyserver.name, fingerprint: source.fingerprint, sha256 };
        if (known.has(targetKey(target))) continue;
        if (await queuePush(db, target, now())) queued += 1;
      }
    }
    return queued;
  }

  /** Per configured keyserver: the counts by status and the newest rows. */
  async overview(): Promise<KeyserverOverview[]> {
    const counts = await countPushes(this.options.db);
    return Promise.all(
      this.options.keyservers.map(async ({ name }) => ({
        keyserver: name,
        counts: Object.fromEntries(counts.filter((entry) => entry.keyserver === name).map((entry) => [entry.status, entry.count])),
        recent: await recentPushes(this.options.db, name, RECENT_ROWS),
      })),
    );
  }

  /** Staff's "retry now" for a push that failed for good: due at once with a fresh set of attempts. */
  async retry(id: string, staff: StaffActor): Promise<void> {
    const { db, now } = this.options;
    await db.$transaction(async (tx) => {
      const row = await findPush(tx, id);
      if (!row || !this.options.keyservers.some((keyserver) => keyserver.name === row.keyserver)) throw new NotFoundError("There is no such push to a configured keyserver. Reload the page to see the current list.");
      if (!(await reopenFailedPush(tx, id, now()))) throw new ConflictError(`This push is ${NOT_RETRIABLE[row.status] ?? row.status}, so there is nothing to retry. Reload the page to see its state.`);
      const data = { pushId: id, keyserver: row.keyserver, fingerprint: row.fingerprint, attempts: row.attempts };
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "keyserver_push.retry", data }, now());
    });
    // Only the worker process delivers; in any other the worker's timer finds the row due.
    if (this.started) void this.deliverDue();
  }

  private kick(sync: boolean): Promise<void> {
    if (this.stopping.signal.aborted || this.options.keyservers.length === 0) return Promise.resolve();
    this.wantPass = true;
    this.wantSync ||= sync;
    this.running ??= this.passes().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async passes(): Promise<void> {
    while (this.wantPass && !this.stopping.signal.aborted) {
      const sync = this.wantSync;
      this.wantPass = false;
      this.wantSync = false;
      try {
        const queued = sync ? await this.sync() : 0;
        if (queued > 0) this.options.log.info({ queued }, "published keys queued for upstream keyservers");
        // Each keyserver gets its own sequence of pushes, so one that stalls holds up only its own.
        await Promise.all(this.options.keyservers.map((keyserver) => this.deliverTo(keyserver)));
      } catch (err) {
        // The rows stay; the next signal or timer tries again.
        this.options.log.error({ err }, "keyserver push pass failed");
      }
    }
  }

  private async deliverTo(keyserver: Keyserver): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const row = await claimDuePush(this.options.db, keyserver.name, this.options.now(), LEASE_MS);
      if (!row) return;
      await this.deliverOne(keyserver, row);
    }
  }

  private async deliverOne(keyserver: Keyserver, row: PushRow): Promise<void> {
    const { db, log, now } = this.options;
    // The form is rebuilt from the published keys; if it changed since, a newer row carries it.
    const [source] = await findPublishedKeys(db, row.fingerprint);
    if (!source || sha256Hex(publishedForm(source)) !== row.sha256) {
      await markPush(db, row.id, { status: "superseded" });
      return;
    }
    const deadline = AbortSignal.timeout(this.options.timeoutSeconds * 1000);
    const outcome = await postKey(keyserver.addUrl, armoredKeys([source]), AbortSignal.any([this.stopping.signal, deadline]));
    const attempts = row.attempts + 1;
    if (outcome.ok) {
      await markPush(db, row.id, { status: "sent", at: now(), attempts });
      return;
    }
    if (this.stopping.signal.aborted) {
      // Not the keyserver's fault: no attempt counted.
      await releasePush(db, row.id, now());
      return;
    }
    const error = deadline.aborted ? `ETIMEDOUT: no answer within ${this.options.timeoutSeconds} s` : outcome.error;
    log.warn({ pushId: row.id, keyserver: keyserver.name, fingerprint: row.fingerprint, attempts, err: error }, "keyserver push failed");
    if (attempts >= MAX_PUSH_ATTEMPTS) await markPush(db, row.id, { status: "failed", attempts, error });
    else await markPush(db, row.id, { status: "pending", attempts, retryAt: new Date(now().getTime() + pushRetryDelayMs(attempts)), error });
  }
}

function targetKey(target: { keyserver: string; fingerprint: string; sha256: string }): string {
  return `${target.keyserver} ${target.fingerprint} ${target.sha256}`;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
