-- The worker reads datasets with ingest's service account, which sees every repo. A private dataset is
-- indexed only for a source whose requester was shown to read it: the API asks the catalog with the
-- requester's own token when the request arrives and records the answer here.
ALTER TABLE sources ADD COLUMN reader_checked boolean NOT NULL DEFAULT false;

-- Semantic search (the optional `semantic` extra): after keyword indexing, the embedder consumer
-- queues the source's completed index for embedding; an embedding executor carries it out with a lease
-- (like runs) and counts its progress here. NULL vector_status: keyword search only.
ALTER TABLE sources
    ADD COLUMN vector_status text CHECK (vector_status IN ('queued', 'embedding', 'completed', 'failed')),
    ADD COLUMN vector_index text,  -- the index (run) whose chunks are embedded; hybrid only while it is index_name
    ADD COLUMN embedded_chunk_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN vector_error text,
    ADD COLUMN vector_lease_owner text,
    ADD COLUMN vector_lease_until timestamptz;
CREATE INDEX sources_vector_queue ON sources (vector_status) WHERE vector_status IN ('queued', 'embedding');
