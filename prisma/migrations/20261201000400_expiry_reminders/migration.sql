-- CreateTable
CREATE TABLE "ExpiryReminder" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "kind" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "thresholdDays" INTEGER NOT NULL,
    "recipient" TEXT NOT NULL,
    "sentAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "ExpiryReminder_kind_subject_expiresAt_thresholdDays_key" ON "ExpiryReminder"("kind", "subject", "expiresAt", "thresholdDays");

