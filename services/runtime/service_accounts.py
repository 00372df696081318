"""Service accounts: the catalog identities of hubstream's own services, and where their tokens are kept.

A service account is a catalog account with one role over every repo: `read` (ingest reads every
dataset it is asked to index, private ones included) or `write` (versioning publishes versions to
dataset repos). Its tokens are ordinary tokens: `hubstream tokens list hubstream-ingest` shows them
and `hubstream tokens revoke ID` revokes one everywhere. `hubstream up` makes sure each account below
exists and has an active token, saved owner-only under `HUBSTREAM_HOME/service-tokens/<account>`; a
revoked one is replaced at the next `up`. The service reads the file when it calls the catalog, so a
new token needs no restart.

A service that acts with such an account must first check that the person it acts for may see the
repo (ingest does so with the requester's own token when the request arrives; versioning asks the
catalog, with the caller's own token, whether the caller may read, or write, the repo).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceAccount:
    name: str
    role: str  # read | write


INGEST = ServiceAccount("hubstream-ingest", "read")
# Versioning publishes versions to, and imports files from, catalog dataset repos (services/versioning/catalog_*.py).
VERSIONING = ServiceAccount("hubstream-versioning", "write")
SERVICE_ACCOUNTS: tuple[ServiceAccount, ...] = (INGEST, VERSIONING)


def token_file(home: Path, account: ServiceAccount) -> Path:
    return home / "service-tokens" / account.name


def read_token(home: Path, account: ServiceAccount) -> str | None:
    """The saved token, or None when `hubstream up` has not saved one (the service then calls anonymously)."""
    try:
        return token_file(home, account).read_text().strip() or None
    except FileNotFoundError:
        return None


def save_token(home: Path, account: ServiceAccount, token: str) -> None:
    """Write the token so that only this OS user can read it."""
    path = token_file(home, account)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
