/**
 * Representative data for every email template: what the services pass, with a long user ID
 * and long links so that a phone's width is tested with the worst the portal sends.
 */
export const SAMPLE_FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567";
export const SAMPLE_CONTACT = "security@example.org";

export function sampleEmailData(): Record<string, unknown> {
  const fingerprint = SAMPLE_FINGERPRINT;
  const link = "https://keysign.example.org/requests/0b6c3f3e-2d4a-4f7e-9a51-6f0d8c1e2b73";
  return {
    link,
    fingerprint,
    minutes: 15,
    hours: 48,
    reason: "Please sign page 2 of the agreement.",
    reasonLabel: "Key compromised",
    reasonText: "The laptop holding the key was stolen.",
    revokedAt: "30 November 2026",
    userId: "Developer With A Rather Long Name <developer.with.a.long.address@example.org>",
    userIds: ["Dev <dev@example.org>"],
    filename: `${fingerprint}.asc`,
    encrypted: true,
    changes: ["The key's expiry moved to 30 November 2028."],
    stripped: "",
    keyPage: `https://keysign.example.org/keys/${fingerprint}`,
    count: 1,
    requests: [{ link, fingerprint, applicant: "dev@example.org" }],
    dashboard: "https://keysign.example.org/admin",
    inviter: "ada@keysign.example",
    roles: "reviewer",
    // The expiry reminders and the staff's expiry digest.
    daysLeft: 30,
    oneDay: false,
    expiresOn: "30 December 2026",
    requestLink: link,
    requestsLink: "https://keysign.example.org/requests",
    renewLink: `${link}/renew`,
    renewal: false,
    keyLink: `https://keysign.example.org/keys/${fingerprint}`,
    extendCommand: `gpg --quick-set-expire ${fingerprint} 2y`,
    subkeysCommand: `gpg --quick-set-expire ${fingerprint} 2y '*'`,
    sendCommand: `gpg --keyserver hkps://keysign.example.org --send-keys ${fingerprint}`,
    horizon: 60,
    certifications: [{ link, fingerprint, owner: "dev@example.org", expiresOn: "30 December 2026" }],
  };
}
