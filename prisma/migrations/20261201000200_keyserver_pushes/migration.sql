-- Pushes of published keys to upstream keyservers (PUBLISH_KEYSERVERS), derived by the push worker.
-- CreateTable
CREATE TABLE "KeyserverPush" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "keyserver" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" DATETIME NOT NULL,
    "lastError" TEXT,
    "createdAt" DATETIME NOT NULL,
    "sentAt" DATETIME
);

-- CreateIndex
CREATE INDEX "KeyserverPush_status_nextAttemptAt_idx" ON "KeyserverPush"("status", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "KeyserverPush_keyserver_createdAt_idx" ON "KeyserverPush"("keyserver", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "KeyserverPush_keyserver_fingerprint_sha256_key" ON "KeyserverPush"("keyserver", "fingerprint", "sha256");

