"""`hubstream versioning`: move versions to and from catalog dataset repos, through the versioning API.

`publish DATASET_ID --repo OWNER/NAME` writes a version as a tagged parquet commit; `import --repo
OWNER/NAME --file PATH (--path P | --id ID)` makes a repo file a version. Both call the versioning
service's routes (`POST /v5/datasets/{id}/publish`, `POST /v5/datasets/import`) with the admin token;
the service reaches the catalog with its own catalog token. Both are safe to run again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aiohttp

from services.cli.common import Commands, service_api


def register(commands: Commands) -> None:
    group = commands.group("versioning", "publish versions to catalog repos, import repo files as versions")
    publish = group.action("publish", "write a version to a catalog dataset repo as a tagged parquet commit", _publish)
    publish.add_argument("dataset_id")
    publish.add_argument("--repo", required=True, help="the catalog dataset repo, owner/name")
    publish.add_argument("--version-id", help="default: the version deployed to production, else the newest")
    publish.add_argument("--environment", help="publish the version deployed to this environment")
    publish.add_argument("--tag", help="default: the version's name, else its id")
    imports = group.action("import", "make a .jsonl or .parquet file of a catalog dataset repo a version", _import)
    imports.add_argument("--repo", required=True, help="the catalog dataset repo, owner/name")
    imports.add_argument("--file", required=True, help="the file's path in the repo")
    imports.add_argument("--revision", default="main")
    target = imports.add_mutually_exclusive_group(required=True)
    target.add_argument("--path", help="the versioned dataset's path (created if new)")
    target.add_argument("--id", help="an existing versioned dataset's ds_ id")
    imports.add_argument("--action", choices=("set", "add"), default="set")
    imports.add_argument("--commit-message")
    imports.add_argument("--version-name")


async def _post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    url, token = service_api("versioning", "http://127.0.0.1:8703")
    async with (
        aiohttp.ClientSession(headers={"X-API-KEY": token}) as session,
        session.post(url + path, json=body, timeout=aiohttp.ClientTimeout(total=300)) as response,
    ):
        return response.status, await response.json(content_type=None)


def _done(code: int, body: Any, what: str) -> int:
    if code == 200:
        return 0
    detail = body.get("detail") if isinstance(body, dict) else body
    print(f"hubstream: could not {what}: {code} {detail}", file=sys.stderr)
    return 1


def _publish(args: argparse.Namespace) -> int:
    body = {"repo_id": args.repo, "version_id": args.version_id, "environment": args.environment, "tag": args.tag}
    code, answer = asyncio.run(_post(f"/v5/datasets/{args.dataset_id}/publish", body))
    if (failed := _done(code, answer, f"publish {args.dataset_id} to {args.repo}")) != 0:
        return failed
    how = "published" if answer["created"] else "already published"
    print(
        f"{how}: version {answer['version_id']} ({answer['datapoints_count']:,} datapoints) as {args.repo} "
        f"tag {answer['tag']} (commit {answer['commit_sha'][:12]})"
    )
    return 0


def _import(args: argparse.Namespace) -> int:
    body = {
        "repo_id": args.repo,
        "file": args.file,
        "revision": args.revision,
        "path": args.path,
        "id": args.id,
        "action": args.action,
        "commit_message": args.commit_message,
        "version_name": args.version_name,
    }
    code, answer = asyncio.run(_post("/v5/datasets/import", body))
    if (failed := _done(code, answer, f"import {args.file} of {args.repo}")) != 0:
        return failed
    print(
        f"{answer['path']} ({answer['id']}): version {answer['version_id']}, {answer['datapoints_count']:,} datapoints"
    )
    return 0
