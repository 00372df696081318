-- Service accounts: identities for hubstream's own services (ingest reads every dataset it is asked to
-- index). A service account holds one role over every repo: read, or write (for versioning, later).
-- Its tokens are ordinary tokens: listed, revoked and announced like anybody's.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('user', 'org', 'service'));
ALTER TABLE accounts ADD COLUMN service_role text CHECK (service_role IN ('read', 'write'));
ALTER TABLE accounts ADD CONSTRAINT accounts_service_role_check2 CHECK ((kind = 'service') = (service_role IS NOT NULL));
