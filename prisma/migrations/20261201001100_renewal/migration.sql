-- AlterTable
ALTER TABLE "Request" ADD COLUMN "renewsRequestId" TEXT;
ALTER TABLE "Request" ADD COLUMN "replacedChoice" TEXT;
ALTER TABLE "Request" ADD COLUMN "replacesRequestId" TEXT;

-- AlterTable
ALTER TABLE "RequestFormToken" ADD COLUMN "replacesRequestId" TEXT;

-- AlterTable
ALTER TABLE "Agreement" ADD COLUMN "agreementVersion" INTEGER NOT NULL DEFAULT 1;

-- CreateIndex
CREATE INDEX "Request_renewsRequestId_idx" ON "Request"("renewsRequestId");

-- CreateIndex
CREATE INDEX "Request_replacesRequestId_idx" ON "Request"("replacesRequestId");
