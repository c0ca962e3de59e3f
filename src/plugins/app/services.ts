import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import type { Config } from "../../config.ts";
import type { Db } from "../../db/client.ts";
import { AuthService } from "../../services/auth.ts";
import { AddressService } from "../../services/addresses.ts";
import type { ServiceContext } from "../../services/context.ts";
import { EXPIRY_CHECK_INTERVAL_MS, ExpiryService } from "../../services/expiry-reminders.ts";
import { KeyserverPushService } from "../../services/keyserver-push.ts";
import { MailDelivery } from "../../services/mail-delivery.ts";
import { OwnerUpdateService } from "../../services/owner-updates.ts";
import { RenewalService } from "../../services/renewals.ts";
import { ReplacementService } from "../../services/replacements.ts";
import { RequestService } from "../../services/requests.ts";
import { HELD_SWEEP_INTERVAL_MS } from "../../services/held-uploads.ts";
import { ReviewService } from "../../services/review.ts";
import { RevocationService } from "../../services/revocations.ts";
import { DIGEST_INTERVAL_MS } from "../../services/review-digest.ts";
import { SettingsService } from "../../services/settings.ts";
import { SetupChecklistService } from "../../services/setup-checklist.ts";
import { MasterRotationService } from "../../services/master-rotation.ts";
import { SigningQueueService } from "../../services/signing-queue.ts";
import { StaffAuthService } from "../../services/staff-auth.ts";
import { PublicationSignal } from "../../services/publication-signal.ts";
import { registerPublishDir } from "./publish-dir.ts";
import { StatusFeedService } from "../../services/status-feed.ts";
import { FileStore } from "../../storage/file-store.ts";
import type { DataPaths } from "../../storage/data-dir.ts";
import { loadOrCreatePublicationKey, loadOrCreateQueueKey } from "../../storage/queue-key.ts";

declare module "fastify" {
  interface FastifyInstance {
    config: Config;
    /** The app's clock (fixed in tests). */
    now: () => Date;
    db: Db;
    dataPaths: DataPaths;
    mail: MailDelivery;
    auth: AuthService;
    applicantAddresses: AddressService;
    requests: RequestService;
    renewals: RenewalService;
    replacements: ReplacementService;
    staffAuth: StaffAuthService;
    review: ReviewService;
    revocations: RevocationService;
    settings: SettingsService;
    setupChecklist: SetupChecklistService;
    signingQueue: SigningQueueService;
    statusFeed: StatusFeedService;
    files: FileStore;
    publication: PublicationSignal;
    keyserverPush: KeyserverPushService;
    ownerUpdates: OwnerUpdateService;
    expiry: ExpiryService;
    masterRotation: MasterRotationService;
  }
}

export interface ServicesOptions {
  config: Config;
  db: Db;
  paths: DataPaths;
  now: () => Date;
}

/** Builds the services once per app and closes what they hold when the app closes. */
async function services(app: FastifyInstance, opts: ServicesOptions): Promise<void> {
  const files = new FileStore(opts.paths);
  const mail = new MailDelivery({
    db: opts.db,
    log: app.log.child({ component: "mail" }),
    smtpUrl: opts.config.SMTP_URL,
    from: opts.config.MAIL_FROM,
    mailDir: opts.paths.mail,
    timeoutSeconds: opts.config.SMTP_TIMEOUT_SECONDS,
    concurrency: opts.config.SMTP_CONCURRENCY,
    now: opts.now,
  });
  const publication = new PublicationSignal();
  const keyserverPush = new KeyserverPushService({
    db: opts.db,
    log: app.log.child({ component: "keyserver-push" }),
    keyservers: opts.config.publishKeyservers,
    timeoutSeconds: opts.config.PUBLISH_TIMEOUT_SECONDS,
    now: opts.now,
  });
  const ctx: ServiceContext = {
    db: opts.db,
    config: opts.config,
    log: app.log,
    files,
    now: opts.now,
    mailQueued: () => {
      if (opts.config.MAIL_WORKER) void mail.deliverDue();
    },
    publicationChanged: () => publication.changed(),
  };
  app.decorate("config", opts.config);
  app.decorate("now", opts.now);
  app.decorate("db", opts.db);
  app.decorate("dataPaths", opts.paths);
  app.decorate("files", files);
  app.decorate("publication", publication);
  app.decorate("keyserverPush", keyserverPush);
  app.decorate("mail", mail);
  app.decorate("auth", new AuthService(ctx));
  app.decorate("applicantAddresses", new AddressService(ctx));
  app.decorate("requests", new RequestService(ctx));
  app.decorate("renewals", new RenewalService(ctx));
  app.decorate("replacements", new ReplacementService(ctx));
  app.decorate("staffAuth", new StaffAuthService(ctx));
  app.decorate("review", new ReviewService(ctx));
  app.decorate("revocations", new RevocationService(ctx));
  app.decorate("settings", new SettingsService(ctx));
  app.decorate("setupChecklist", new SetupChecklistService(ctx));
  app.decorate("masterRotation", new MasterRotationService(ctx));
  app.decorate("ownerUpdates", new OwnerUpdateService(ctx));
  const expiry = new ExpiryService(ctx);
  app.decorate("expiry", expiry);
  const queueKeyFile = opts.config.QUEUE_KEY_FILE || opts.paths.queueKey;
  const hostname = new URL(opts.config.PUBLIC_URL).hostname;
  app.decorate("signingQueue", new SigningQueueService(ctx, await loadOrCreateQueueKey(queueKeyFile, hostname, opts.now())));
  const statusFeed = new StatusFeedService(ctx, await loadOrCreatePublicationKey(opts.paths.publicationKey, hostname, opts.now()));
  publication.subscribe(() => statusFeed.invalidate());
  app.decorate("statusFeed", statusFeed);

  // Files held from failed request forms: expired ones go at start and every few minutes, worker or not.
  let heldTimer: NodeJS.Timeout | null = null;
  const sweepHeld = () => app.requests.held.sweep().catch((err: unknown) => app.log.error({ err }, "sweeping held uploads failed"));
  app.addHook("onReady", async () => {
    await sweepHeld();
    heldTimer = setInterval(() => void sweepHeld(), HELD_SWEEP_INTERVAL_MS);
    heldTimer.unref();
  });
  app.addHook("onClose", async () => {
    if (heldTimer) clearInterval(heldTimer);
  });

  // The background workers (MAIL_WORKER): mail, the review digest, expiry reminders and the keyserver pushes.
  let digestTimer: NodeJS.Timeout | null = null;
  let expiryTimer: NodeJS.Timeout | null = null;
  const checkExpiry = (check: () => Promise<unknown>) => check().catch((err: unknown) => app.log.error({ err }, "expiry check failed"));
  app.addHook("onReady", async () => {
    if (!opts.config.MAIL_WORKER) return;
    await mail.start();
    publication.subscribe(() => void keyserverPush.run());
    await keyserverPush.start();
    digestTimer = setInterval(() => void app.review.sendDigest().catch((err: unknown) => app.log.error({ err }, "review digest failed")), DIGEST_INTERVAL_MS);
    digestTimer.unref();
    // Catches up at start when the last check is older than its interval (downtime), then hourly.
    await checkExpiry(() => expiry.runIfDue());
    expiryTimer = setInterval(() => void checkExpiry(() => expiry.run()), EXPIRY_CHECK_INTERVAL_MS);
    expiryTimer.unref();
  });
  app.addHook("onClose", async () => {
    if (digestTimer) clearInterval(digestTimer);
    if (expiryTimer) clearInterval(expiryTimer);
    await Promise.all([mail.stop(), keyserverPush.stop()]);
    await opts.db.$disconnect();
  });
  // After the hook above: onClose hooks run last-added first, so an export under way ends before the database closes.
  registerPublishDir(app, publication);
}

export default fp(services, { name: "keysign-services", fastify: "5.x" });
