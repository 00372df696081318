-- A listing of one author's repos (`list_models(author=...)`), in any order but the id's. The listing indexes
-- lead with the sort key, so an author's page walked them past every other author's entries: a large org whose
-- repos sort late (all old, for sort=lastModified) took 98 ms at 300,000 repos, and grows with the table. These
-- lead with the namespace: a page reads its own rows only. The id order needs none: an author's ids are one
-- range of full_id, which store_listing.list_sql asks repos_list_id for.
CREATE INDEX repos_author_modified ON repos (repo_type, namespace, updated_at, full_id) INCLUDE (private, tags, gated);
CREATE INDEX repos_author_created ON repos (repo_type, namespace, created_at, full_id) INCLUDE (private, tags, gated);
CREATE INDEX repos_author_likes ON repos (repo_type, namespace, likes, full_id) INCLUDE (private, tags, gated);
CREATE INDEX repos_author_downloads ON repos (repo_type, namespace, downloads, full_id) INCLUDE (private, tags, gated);
