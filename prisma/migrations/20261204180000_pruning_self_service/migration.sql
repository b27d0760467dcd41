-- Pruning of what self-service accounts leave behind (src/core/pruning.ts): used or expired links,
-- delivered or failed mail, and self-registered accounts that never confirmed their email. On a
-- large accounts table this index takes a while and blocks writes to it meanwhile: create it
-- CONCURRENTLY beforehand under the same name and it is kept (docs/operations.md, "Pruning and retention").

-- Accounts that never confirmed their email, by when they signed up.
CREATE INDEX IF NOT EXISTS "accounts_email_verified_at_created_at_idx" ON "accounts"("email_verified_at", "created_at");
