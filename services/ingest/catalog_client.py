"""What ingest asks the catalog over HTTP (its public Hub API)."""

from __future__ import annotations

from typing import Any

import aiohttp


class CatalogUnavailable(RuntimeError):
    """The catalog did not answer; the message says where."""


class CatalogClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str | None = None) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        # The worker's own identity on the catalog, so that it may read private datasets it is asked to index.
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def _get_json(self, path: str) -> tuple[int, Any]:
        url = f"{self._base}{path}"
        try:
            async with self._session.get(
                url, headers=self._headers, timeout=aiohttp.ClientTimeout(total=30)
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
