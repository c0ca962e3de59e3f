-- CreateTable
CREATE TABLE "RequestFormToken" (
    "tokenHash" TEXT NOT NULL PRIMARY KEY,
    "applicantId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "usedAt" DATETIME,
    "requestId" TEXT,
    CONSTRAINT "RequestFormToken_applicantId_fkey" FOREIGN KEY ("applicantId") REFERENCES "Applicant" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "RequestFormToken_applicantId_createdAt_idx" ON "RequestFormToken"("applicantId", "createdAt");

