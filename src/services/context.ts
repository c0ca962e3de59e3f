import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import type { FileStore } from "../storage/file-store.ts";

/** What every service gets: the one database client, the clock, configuration and a way to wake the mail worker. */
export interface ServiceContext {
  db: Db;
  config: Config;
  log: FastifyBaseLogger;
  files: FileStore;
  now: () => Date;
  /** Called after a transaction that queued email commits, so delivery starts at once. */
  mailQueued: () => void;
  /** Called after a transaction that changed a published key (certification, revocation, owner update) commits. */
  publicationChanged: () => void;
}

/** A signed-in staff member acting on a staff page: who, and from which address. */
export interface StaffActor {
  id: string;
  email: string;
  ip: string;
}

/** Who did something, for the audit log. */
export interface Actor {
  type: "applicant" | "staff" | "system";
  id: string | null;
  ip: string | null;
}

export function messageIdDomain(config: Config): string {
  return new URL(config.PUBLIC_URL).hostname;
}
