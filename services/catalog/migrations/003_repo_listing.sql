-- Repo settings, card metadata and what listing sorts and filters on; old names of moved repos.

ALTER TABLE repos
    ADD COLUMN gated     text    NOT NULL DEFAULT 'false' CHECK (gated IN ('false', 'auto', 'manual')),
    ADD COLUMN sdk       text,     -- spaces: gradio, streamlit, docker or static
    ADD COLUMN card_data jsonb,    -- the README's YAML front matter on main (null: no README or no valid YAML)
    ADD COLUMN tags      text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN likes     integer NOT NULL DEFAULT 0,
    ADD COLUMN downloads bigint  NOT NULL DEFAULT 0,
    -- "namespace/name": what `search` matches and the tie-breaker of every listing order (unique per type).
    -- Bytewise collation: one stable order, the same in Python and in the indexes.
    ADD COLUMN full_id   text COLLATE "C" GENERATED ALWAYS AS (namespace || '/' || name) STORED;

-- Keyset pagination: one index per sort key, each ending in full_id so that (key, full_id) is a total order.
-- They also carry every column a listing filters on, so a page is found by an index-only scan (filters are
-- checked on index entries, not on table rows fetched one by one), and only the page's own rows are read.
CREATE INDEX repos_list_id ON repos (repo_type, full_id) INCLUDE (private, namespace, tags, gated);
CREATE INDEX repos_list_modified ON repos (repo_type, updated_at, full_id) INCLUDE (private, namespace, tags, gated);
CREATE INDEX repos_list_created ON repos (repo_type, created_at, full_id) INCLUDE (private, namespace, tags, gated);
CREATE INDEX repos_list_likes ON repos (repo_type, likes, full_id) INCLUDE (private, namespace, tags, gated);
CREATE INDEX repos_list_downloads ON repos (repo_type, downloads, full_id) INCLUDE (private, namespace, tags, gated);
CREATE INDEX repos_by_namespace ON repos (namespace);
CREATE INDEX repos_tags ON repos USING gin (tags);

-- Substring search on ids: a trigram index when pg_trgm can be installed (Debian's PostgreSQL ships it, and
-- it is a trusted extension); without it `search` still works, by scanning.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;  -- shared by every schema of the database
    CREATE INDEX repos_full_id_trgm ON repos USING gin (full_id gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): repo search will scan instead of using a trigram index', SQLERRM;
END
$$;

-- A moved repo keeps answering at its old names (as redirects), until a new repo takes the name.
CREATE TABLE repo_redirects (
    repo_type text NOT NULL,
    namespace text NOT NULL,
    name      text NOT NULL,
    repo      text NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    PRIMARY KEY (repo_type, namespace, name)
);
CREATE INDEX repo_redirects_by_repo ON repo_redirects (repo);
