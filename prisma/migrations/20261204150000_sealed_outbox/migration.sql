-- Mail bodies wait in the outbox sealed under the key-encryption secret; this names which one.
ALTER TABLE "mail_outbox" ADD COLUMN "sealed_with" TEXT;
