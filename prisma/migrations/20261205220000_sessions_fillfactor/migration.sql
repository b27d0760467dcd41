-- A refresh updates its session's row (last use, role, and now and then the idle expiry). Most of
-- those updates leave every indexed column as it was (see Sessions.extendedIdleExpiry), so with room
-- left on each page the new row version stays beside the old one: a HOT update, no index entries.
ALTER TABLE "sessions" SET (fillfactor = 90);
