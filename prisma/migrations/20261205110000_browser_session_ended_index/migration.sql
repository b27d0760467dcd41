-- Pruning finds ended browser sessions by when they ended.
-- CreateIndex
CREATE INDEX "browser_sessions_ended_at_idx" ON "browser_sessions"("ended_at");

