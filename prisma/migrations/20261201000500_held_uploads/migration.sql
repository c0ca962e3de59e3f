-- CreateTable
CREATE TABLE "HeldUpload" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "handleHash" TEXT NOT NULL,
    "applicantId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "agreementStorageName" TEXT,
    "agreementFileName" TEXT,
    "agreementSize" INTEGER,
    "signature" BLOB,
    "signatureFileName" TEXT,
    "createdAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "HeldUpload_handleHash_key" ON "HeldUpload"("handleHash");

-- CreateIndex
CREATE UNIQUE INDEX "HeldUpload_agreementStorageName_key" ON "HeldUpload"("agreementStorageName");

-- CreateIndex
CREATE INDEX "HeldUpload_applicantId_createdAt_idx" ON "HeldUpload"("applicantId", "createdAt");

-- CreateIndex
CREATE INDEX "HeldUpload_expiresAt_idx" ON "HeldUpload"("expiresAt");

