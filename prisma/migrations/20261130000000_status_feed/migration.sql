-- CreateTable
CREATE TABLE "StatusFeed" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sequence" INTEGER NOT NULL,
    "contentSha256" TEXT NOT NULL,
    "generatedAt" DATETIME NOT NULL,
    "validUntil" DATETIME NOT NULL,
    "body" BLOB NOT NULL,
    "signature" TEXT NOT NULL
);

