-- A user ID may now hold several certifications: a renewal, or one by each master after a rotation.
ALTER TABLE "Certification" ADD COLUMN "masterFingerprint" TEXT NOT NULL DEFAULT '';
ALTER TABLE "Certification" ADD COLUMN "supersededAt" DATETIME;

-- Every certification so far was made by the one master key on file.
UPDATE "Certification" SET "masterFingerprint" = COALESCE((SELECT upper("value") FROM "Setting" WHERE "key" = 'masterFingerprint'), '');

DROP INDEX "Certification_requestId_userId_key";
CREATE UNIQUE INDEX "Certification_requestId_userId_batchNumber_key" ON "Certification"("requestId", "userId", "batchNumber");
CREATE INDEX "Certification_requestId_idx" ON "Certification"("requestId");
