-- Single-token and role revocations, kept durably (Redis serves them).
-- CreateTable
CREATE TABLE "token_revocations" (
    "key" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "revoked_at" TIMESTAMP(3) NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,
    "replay_seal" TEXT,

    CONSTRAINT "token_revocations_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "token_revocations_expires_at_idx" ON "token_revocations"("expires_at");


-- Operator rights over Latchkey come from this permission, in the reserved "latchkey:" namespace
-- that the admin API will not create or attach, never from an application's role name. The role
-- that carries it is given by `cli create-admin` / `cli grant-operator` and the admin API.
-- Nobody holds it after this migration: see docs on moving operators over.
INSERT INTO "permissions" ("id", "name", "description", "created_at")
VALUES (gen_random_uuid(), 'latchkey:operator', 'Operate Latchkey itself: the admin API and introspection', CURRENT_TIMESTAMP)
ON CONFLICT ("name") DO NOTHING;

INSERT INTO "roles" ("id", "name", "description", "created_at")
VALUES (gen_random_uuid(), 'latchkey:operator', 'Latchkey operators', CURRENT_TIMESTAMP)
ON CONFLICT ("name") DO NOTHING;

INSERT INTO "role_permissions" ("role_id", "permission_id")
SELECT r."id", p."id" FROM "roles" r, "permissions" p
WHERE r."name" = 'latchkey:operator' AND p."name" = 'latchkey:operator'
ON CONFLICT DO NOTHING;
