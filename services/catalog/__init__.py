"""catalog: repos, files and commits, collections, users/orgs/tokens, behind the Hub HTTP API."""
