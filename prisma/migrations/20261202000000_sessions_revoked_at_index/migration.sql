-- Recently ended sessions, rewritten to Redis when it has lost its data.
CREATE INDEX "sessions_revoked_at_idx" ON "sessions"("revoked_at");
