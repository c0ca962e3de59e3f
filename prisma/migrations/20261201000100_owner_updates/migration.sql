-- CreateTable
CREATE TABLE "KeyUpdate" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "fingerprint" TEXT NOT NULL,
    "canonicalKey" BLOB NOT NULL,
    "sha256" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "summary" TEXT NOT NULL,
    "applicantId" TEXT,
    "createdAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "KeyUpdate_fingerprint_createdAt_idx" ON "KeyUpdate"("fingerprint", "createdAt");

