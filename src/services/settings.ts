import { readFile } from "node:fs/promises";
import path from "node:path";
import { sha256Hex } from "../core/agreement-pdf.ts";
import { PUBLIC_DIR } from "../plugins/external/static.ts";
import { armorPublicKey, DEFAULT_KEY_POLICY, formProblem, inspectKey } from "../core/key-policy.ts";
import {
  contactAddressOf,
  parseAgreementVersion,
  parseApprovalsRequired,
  parseRenewalApprovalsRequired,
  parseCertificationDomain,
  parseContactAddress,
  parseOpenRequestsPerApplicant,
  parseOrganisationName,
  parsePolicyUrl,
  parseValidityDays,
  type Settings,
} from "../core/settings.ts";
import { FormError, type FormProblem } from "../errors.ts";
import { masterReplacementProblem } from "../core/master-keys.ts";
import { readMasterKeys } from "../repositories/master-keys.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { readSettings, writeSettings } from "../repositories/settings.ts";
import type { ServiceContext, StaffActor } from "./context.ts";

export interface SettingsInput {
  approvalsRequired: string;
  certificationValidityDays: string;
  /** Absent from a form rendered before this setting existed: the stored value stays. */
  openRequestsPerApplicant?: string;
  policyUrl: string;
  organisationName: string;
  certificationDomain: string;
  /** Absent from a form rendered before this setting existed: the stored value stays. */
  contactAddress?: string;
}

export interface RenewalSettingsInput {
  renewalApprovalsRequired: string;
  agreementVersion: string;
}

/** Admin settings; every change is audited with its old and new value. */
export class SettingsService {
  constructor(private readonly ctx: ServiceContext) {}

  read(): Promise<Settings> {
    return readSettings(this.ctx.db);
  }

  /** The address shown for security questions on every page and in every email, or null when there is none. */
  async contactAddress(): Promise<string | null> {
    return contactAddressOf(await this.read(), this.ctx.config.MAIL_FROM);
  }

  async update(input: SettingsInput, staff: StaffActor): Promise<void> {
    const current = await this.read();
    const approvals = parseApprovalsRequired(input.approvalsRequired);
    const validity = parseValidityDays(input.certificationValidityDays);
    const openRequests = input.openRequestsPerApplicant === undefined ? current.openRequestsPerApplicant : parseOpenRequestsPerApplicant(input.openRequestsPerApplicant);
    const contactAddress = input.contactAddress === undefined ? current.contactAddress : parseContactAddress(input.contactAddress);
    const policyUrl = parsePolicyUrl(input.policyUrl);
    const organisationName = parseOrganisationName(input.organisationName);
    const certificationDomain = parseCertificationDomain(input.certificationDomain);
    const problems: FormProblem[] = [approvals, validity, openRequests, policyUrl, organisationName, certificationDomain, contactAddress].flatMap((v) =>
      typeof v === "object" ? [{ field: v.field, code: "KEYSIGN_ERR_SETTING", message: v.message }] : [],
    );
    if (
      problems.length > 0 ||
      typeof approvals !== "number" ||
      typeof validity !== "number" ||
      typeof openRequests !== "number" ||
      typeof policyUrl !== "string" ||
      typeof organisationName !== "string" ||
      typeof certificationDomain !== "string" ||
      typeof contactAddress !== "string"
    ) {
      throw new FormError(problems);
    }
    const next = { approvalsRequired: approvals, certificationValidityDays: validity, openRequestsPerApplicant: openRequests, policyUrl, organisationName, certificationDomain, contactAddress };
    await this.save(next, staff, "settings.update");
  }

  /** The master PUBLIC key: the same intake policy as applicants' keys, so a secret key is refused and never stored. */
  async setMasterKey(upload: Uint8Array, staff: StaffActor): Promise<void> {
    const result = await inspectKey(upload, { ...DEFAULT_KEY_POLICY, minRsaBits: this.ctx.config.MIN_RSA_BITS, now: this.ctx.now() });
    if (!result.ok) throw new FormError(result.problems.map((p) => formProblem("masterKey", p)));
    const rotation = masterReplacementProblem(await readMasterKeys(this.ctx.db), result.facts.fingerprint);
    if (rotation) throw new FormError([{ field: "masterKey", code: "KEYSIGN_ERR_MASTER_ROTATION", message: rotation }], 409);
    const armored = armorPublicKey(result.minimal);
    await this.save({ masterPublicKey: armored, masterFingerprint: result.facts.fingerprint }, staff, "settings.master_key");
  }

  /** The renewal block: the renewal quorum and the agreement version (which only goes up). */
  async updateRenewalSettings(input: RenewalSettingsInput, staff: StaffActor): Promise<void> {
    const current = await this.read();
    const approvals = parseRenewalApprovalsRequired(input.renewalApprovalsRequired);
    const version = parseAgreementVersion(input.agreementVersion, current.agreementVersion);
    const problems: FormProblem[] = [approvals, version].flatMap((v) => (typeof v === "object" ? [{ field: v.field, code: "KEYSIGN_ERR_SETTING", message: v.message }] : []));
    if (problems.length > 0 || typeof approvals !== "number" || typeof version !== "number") throw new FormError(problems);
    await this.save({ renewalApprovalsRequired: approvals, agreementVersion: version }, staff, "settings.update");
  }

  /** The SHA-256 of the agreement template applicants download, shown next to the agreement version. */
  async agreementTemplateSha256(): Promise<string> {
    return sha256Hex(await readFile(path.join(PUBLIC_DIR, "keysign-agreement.pdf")));
  }

  private async save(values: Partial<Settings>, staff: StaffActor, action: string): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const before = await readSettings(tx);
      await writeSettings(tx, values, staff.id, now);
      const changes = Object.fromEntries(
        Object.entries(values)
          .filter(([key]) => key !== "masterPublicKey")
          .map(([key, value]) => [key, { from: before[key as keyof Settings], to: value }]),
      );
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action, data: changes }, now);
    });
  }
}
