"""`hubstream bench mirror`: a mirror's sync and its file cache, against a local upstream catalog.

Phases, each repeated (3 by default), medians with their spread:

- full sync: a fresh mirror copies N repos' metadata (info, files, refs, commits) from an upstream that is
  `hubstream serve catalog` on its own database; repos/s. Beside it, the baseline: the same upstream calls
  (info, refs, commits of every repo, same parallelism) without writing anything, i.e. the floor the upstream
  and HTTP set.
- incremental sync: 1 % of the upstream repos get a new commit; the next sync's time, and its ratio to the
  full sync's (goal: at most 5 %).
- files: a mirrored file (1 GB by default) downloaded first (fetched from the upstream, streamed, verified,
  cached) and again (from the cache), in MB/s, beside a plain copy of the same file on this disk.
"""
