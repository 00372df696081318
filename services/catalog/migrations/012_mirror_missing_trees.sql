-- A mirror's sync copies every commit of a branch's history, but the tree (file list) only of the commits its refs
-- point at. A commit whose tree was not copied is marked, so that a read at it fetches that tree from the upstream
-- (services/catalog/mirror_trees.py) instead of answering an empty tree; the fetch stores it and clears the mark.
-- Local commits always have their tree: the default is false, and adding the column rewrites no table.
ALTER TABLE commits ADD COLUMN tree_missing boolean NOT NULL DEFAULT false;

-- Copies made before this migration: their commits without a single file row are the ones whose tree was never
-- copied (a commit's tree lists at least its .gitattributes on the Hub; an empty one is merely fetched once more).
UPDATE commits c SET tree_missing = true
FROM mirrored_repos m
WHERE c.repo_id = m.repo_id
  AND NOT EXISTS (SELECT 1 FROM commit_files f WHERE f.repo_id = c.repo_id AND f.commit_sha = c.sha);
