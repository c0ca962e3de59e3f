import { GPL_COMPATIBLE_LICENCES } from "../core/submission.ts";

export const AGREEMENT_TEMPLATE_PATH = "/public/keysign-agreement.pdf";

export function landingModel() {
  return {
    title: "Module signing keys for FreePBX",
    agreementUrl: AGREEMENT_TEMPLATE_PATH,
    licences: GPL_COMPATIBLE_LICENCES.map((l) => l.id).join(", "),
  };
}
