-- CreateTable
CREATE TABLE "Batch" (
    "number" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "state" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "createdById" TEXT NOT NULL,
    "file" BLOB NOT NULL,
    "sha256" TEXT NOT NULL,
    "result" BLOB,
    "resultSha256" TEXT,
    "importedAt" DATETIME,
    "importedById" TEXT,
    "cancelledAt" DATETIME
);

-- CreateTable
CREATE TABLE "BatchItem" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "batchNumber" INTEGER NOT NULL,
    "requestId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "revocationId" TEXT,
    "outcome" TEXT,
    "declineReason" TEXT,
    CONSTRAINT "BatchItem_batchNumber_fkey" FOREIGN KEY ("batchNumber") REFERENCES "Batch" ("number") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "BatchItem_requestId_fkey" FOREIGN KEY ("requestId") REFERENCES "Request" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "BatchItem_revocationId_fkey" FOREIGN KEY ("revocationId") REFERENCES "Revocation" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Certification" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "requestId" TEXT NOT NULL,
    "batchNumber" INTEGER NOT NULL,
    "userId" TEXT NOT NULL,
    "signature" BLOB NOT NULL,
    "sealedRevocation" BLOB,
    "certifiedAt" DATETIME NOT NULL,
    "revocation" BLOB,
    "revokedAt" DATETIME,
    CONSTRAINT "Certification_requestId_fkey" FOREIGN KEY ("requestId") REFERENCES "Request" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Revocation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "requestId" TEXT NOT NULL,
    "reasonCode" TEXT NOT NULL,
    "reasonText" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "proposedById" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    "appliedAt" DATETIME,
    CONSTRAINT "Revocation_requestId_fkey" FOREIGN KEY ("requestId") REFERENCES "Request" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Revocation_proposedById_fkey" FOREIGN KEY ("proposedById") REFERENCES "Staff" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "RevocationApproval" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "revocationId" TEXT NOT NULL,
    "staffId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    CONSTRAINT "RevocationApproval_revocationId_fkey" FOREIGN KEY ("revocationId") REFERENCES "Revocation" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "RevocationApproval_staffId_fkey" FOREIGN KEY ("staffId") REFERENCES "Staff" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_OutboxEmail" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "template" TEXT NOT NULL,
    "recipient" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "html" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "messageId" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME,
    "lastError" TEXT,
    "attachments" TEXT NOT NULL DEFAULT '[]',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" DATETIME
);
INSERT INTO "new_OutboxEmail" ("attempts", "createdAt", "expiresAt", "html", "id", "lastError", "messageId", "nextAttemptAt", "recipient", "sentAt", "status", "subject", "template", "text") SELECT "attempts", "createdAt", "expiresAt", "html", "id", "lastError", "messageId", "nextAttemptAt", "recipient", "sentAt", "status", "subject", "template", "text" FROM "OutboxEmail";
DROP TABLE "OutboxEmail";
ALTER TABLE "new_OutboxEmail" RENAME TO "OutboxEmail";
CREATE UNIQUE INDEX "OutboxEmail_messageId_key" ON "OutboxEmail"("messageId");
CREATE INDEX "OutboxEmail_status_nextAttemptAt_idx" ON "OutboxEmail"("status", "nextAttemptAt");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "Batch_sha256_key" ON "Batch"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "Batch_resultSha256_key" ON "Batch"("resultSha256");

-- CreateIndex
CREATE INDEX "BatchItem_requestId_idx" ON "BatchItem"("requestId");

-- CreateIndex
CREATE INDEX "BatchItem_batchNumber_idx" ON "BatchItem"("batchNumber");

-- CreateIndex
CREATE UNIQUE INDEX "Certification_requestId_userId_key" ON "Certification"("requestId", "userId");

-- CreateIndex
CREATE INDEX "Revocation_requestId_idx" ON "Revocation"("requestId");

-- CreateIndex
CREATE INDEX "Revocation_state_idx" ON "Revocation"("state");

-- CreateIndex
CREATE UNIQUE INDEX "RevocationApproval_revocationId_staffId_key" ON "RevocationApproval"("revocationId", "staffId");

