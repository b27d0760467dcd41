-- OAuth clients get RFC 7591's metadata. Existing clients stay what they were: confidential, with
-- no grant of their own (they authenticate to introspection and revocation).

-- AlterTable
ALTER TABLE "oauth_clients" ADD COLUMN     "first_party" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "grant_types" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "post_logout_redirect_uris" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "redirect_uris" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "resources" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "response_types" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "scope" TEXT,
ADD COLUMN     "token_endpoint_auth_method" TEXT NOT NULL DEFAULT 'client_secret_basic',
ADD COLUMN     "updated_at" TIMESTAMP(3),
ALTER COLUMN "secret_hash" DROP NOT NULL;

