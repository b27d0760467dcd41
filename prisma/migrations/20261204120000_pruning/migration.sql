-- Pruning of expired rows (src/core/pruning.ts). On a large existing table these indexes take a
-- while and block writes to it meanwhile: create them CONCURRENTLY beforehand under the same names
-- and they are kept (docs/operations.md, "Pruning and retention").

-- When pruning last ran: the first instance to find it due prunes, the others skip.
CREATE TABLE "pruning_schedule" (
    "id" INTEGER NOT NULL,
    "last_run_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "pruning_schedule_pkey" PRIMARY KEY ("id")
);

-- Addresses not seen within KNOWN_IP_RETENTION_DAYS.
CREATE INDEX IF NOT EXISTS "known_login_ips_last_seen_at_idx" ON "known_login_ips"("last_seen_at");

-- Sessions expired long enough ago (revoked ones are found by sessions_revoked_at_idx).
CREATE INDEX IF NOT EXISTS "sessions_idle_expires_at_idx" ON "sessions"("idle_expires_at");
