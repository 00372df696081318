-- Collections copied from a mirror's upstream. They keep the upstream's id and slug (so a script that stored the
-- upstream's slug finds them here) and are read-only: only the mirror's syncs change them.

ALTER TABLE collections ADD COLUMN mirror text REFERENCES mirrors (name);
-- The upstream's slug as it formed it (its title part is the upstream's slugify, which may differ from ours).
ALTER TABLE collections ADD COLUMN upstream_slug text;
-- The upstream's `gating` as it sent it (false, or its settings); local collections have none and show none.
ALTER TABLE collections ADD COLUMN gating jsonb;

-- An item of a mirrored collection as the upstream listed it (its repo's likes, downloads, gating, a paper's title,
-- ...): shown as it is when what it names is not copied here (a repo the mirror does not follow, a paper).
ALTER TABLE collection_items ADD COLUMN upstream jsonb;

-- What the upstream showed at the last copy: a collection whose lastUpdated and contents are unchanged is not
-- written again.
CREATE TABLE mirrored_collections (
    collection_id    text PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
    mirror           text        NOT NULL REFERENCES mirrors (name),
    upstream_updated text        NOT NULL,  -- `lastUpdated`, as the upstream wrote it
    upstream_digest  text        NOT NULL,  -- of the fields and items copied: same digest, nothing to write
    synced_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mirrored_collections_by_mirror ON mirrored_collections (mirror);
