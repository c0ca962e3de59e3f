-- The addresses an owner agreed to publish; none until they choose.
ALTER TABLE "Request" ADD COLUMN "publishedUserIds" TEXT NOT NULL DEFAULT '[]';
