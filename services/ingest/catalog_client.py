"""What ingest asks the catalog over HTTP (its public Hub API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

TokenSource = Callable[[], str | None]


class CatalogUnavailable(RuntimeError):
    """The catalog did not answer; the message says where."""


class CatalogClient:
    """Calls the catalog as one identity: the requester's token (API checks) or ingest's service account
    (the worker), given as a token or as a function read at each call (the saved service token may be
    replaced while the worker runs)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str | TokenSource | None = None) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._token: TokenSource = token if callable(token) else (lambda: token)

    def _headers(self) -> dict[str, str]:
        token = self._token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def _get_json(self, path: str) -> tuple[int, Any]:
        url = f"{self._base}{path}"
        try:
            async with self._session.get(
                url, headers=self._headers(), timeout=aiohttp.ClientTimeout(total=30)
            ) as response:
                if response.status == 404:
                    return 404, None
                if response.status >= 400:
                    text = (await response.text())[:300]
                    return response.status, text
                return response.status, await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CatalogUnavailable(f"the catalog at {self._base} did not answer GET {path}: {exc!r}") from exc

    async def dataset_info(self, dataset: str) -> tuple[int, Any]:
        return await self._get_json(f"/api/datasets/{dataset}")

    async def parquet_files(self, dataset: str) -> tuple[int, Any]:
        return await self._get_json(f"/api/datasets/{dataset}/parquet")
