-- The worker reads datasets with ingest's service account, which sees every repo. A private dataset is
-- indexed only for a source whose requester was shown to read it: the API asks the catalog with the
-- requester's own token when the request arrives and records the answer here.
ALTER TABLE sources ADD COLUMN reader_checked boolean NOT NULL DEFAULT false;
