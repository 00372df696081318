"""The transfer phase: one large file up through the catalog and down again, beside a plain copy of it.

What is timed, per round, all on the same disk (one scratch folder that also holds the catalog's blobs):
- copy: `shutil.copyfile` of the source file (the kernel's copy_file_range/sendfile: the disk's own rate);
- upload: what `huggingface_hub.upload_file` sends for an LFS file, on the wire: preupload, the LFS batch
  request, the PUT of the bytes to the signed upload URL (streamed from the file, with its Content-Length), and
  the NDJSON commit naming the object. The client hashes the file before it asks the batch API (the oid is in
  the request); that happens once, before the rounds, and is not timed: it is the client's cost, not the hub's;
- download: `GET /{repo}/resolve/main/{path}` read in 10 MB pieces into a file, as `hf_hub_download` does.

The requests are made with aiohttp from this process rather than by `huggingface_hub` itself: the figure is the
catalog's, and on a small machine the client library's own per-64-KiB overhead (its synchronous HTTP stack reading
the file) would share the CPU with the server and be measured instead. The wire is the same; the compat tests
prove the real clients work against it. The client is tuned at least as well as huggingface_hub's, never better
than a good client can be:
- upload: huggingface_hub PUTs the file object (httpx reads it 64 KiB at a time; requests, under the 0.2x line,
  8 KiB). Here the file is read 4 MiB at a time in a thread and handed to aiohttp as an async generator: giving
  aiohttp the file object instead makes it read 256 KiB per executor hop, about twice this process's CPU per GB;
- download: huggingface_hub reads the response in 10 MB pieces (`iter_bytes(chunk_size=10 MiB)`) and writes each
  to the file. Here the same, with a 4 MiB aiohttp read buffer (the default 64 KiB would cost this process more
  than the catalog). Gathering the received pieces and writing them with one `writev` measured worse.

The same transfers are also made with curl (`curl -T` to the signed URL, `curl -o` from resolve), a plain C client
whose own cost is small: its rates show what the catalog can serve, beside the rates of the Python client. The
goal's verdict stays on the Python client, which behaves like the real one; curl's figures are a cross-check.

Each round uses a new repo, so the LFS batch asks for the bytes every time (a repo that holds an object is told
to skip it). While uploads and downloads run, the catalog process's RSS is sampled every few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import math
import os
import resource
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

from bench.running import process_cpu, say

BLOCK = 4 * 1024 * 1024
DOWNLOAD_PIECE = 10 * 1024 * 1024  # huggingface_hub's download chunk size
PATH_IN_REPO = "big.bin"
RSS_EVERY = 0.005  # seconds between two RSS samples
COPY, UPLOAD, DOWNLOAD = "file copy", "upload", "download"
CURL_UPLOAD, CURL_DOWNLOAD = "upload, curl", "download, curl"
# The same GET with curl writing the bytes nowhere: what the catalog serves at, without the client's file write.
CURL_SERVED = "download, curl, discarded"
SHA256 = "sha256, 1 core"  # hashing the file's size in memory: the most an upload verified as it streams can reach
CURL_TIMEOUT = 600.0  # seconds: a hard limit for one curl transfer


class TransferFailed(RuntimeError):
    pass


@dataclass
class TransferFigures:
    size_bytes: int
    seconds: dict[str, list[float]] = field(default_factory=dict)  # path -> seconds per round
    rss_start_mb: list[float] = field(default_factory=list)  # catalog RSS before each upload/download
    rss_peak_mb: list[float] = field(default_factory=list)  # its peak during it
    cpu: dict[str, list[float]] = field(default_factory=dict)  # path -> the catalog's CPU seconds per round
    # path -> this process's (the client's) CPU seconds per round: a download costs the catalog little (sendfile),
    # so its rate is the client's; this says how much of the machine the client took
    client_cpu: dict[str, list[float]] = field(default_factory=dict)

    def add(self, path: str, seconds: float) -> None:
        self.seconds.setdefault(path, []).append(seconds)

    def rates_mb_s(self, path: str) -> list[float]:
        return [self.size_bytes / 1e6 / s for s in self.seconds.get(path, []) if s > 0]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process, all its threads: what a transfer cost it, however busy the
    machine (the rate depends on what else runs; this does not)."""
    found = process_cpu(pid)
    return found[1] if found is not None else math.nan


def children_cpu_seconds() -> float:
    """CPU time of this process's children that have been waited for (a curl run, once it exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


@contextlib.asynccontextmanager
async def sampled_rss(pid: int, figures: TransferFigures, path: str) -> AsyncIterator[None]:
    """Record the process's RSS now and its highest value until the block ends, and the CPU time it spent."""
    start = rss_mb(pid)
    # The client's CPU: this process's, and curl's when curl made the request (the catalog server is a child of
    # this process too, but one not waited for before the end: it is not counted among the children).
    cpu_before, client_cpu_before = cpu_seconds(pid), cpu_seconds(os.getpid()) + children_cpu_seconds()
    peak = [start]
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            peak.append(rss_mb(pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RSS_EVERY)

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        stop.set()
        await task
        peak.append(rss_mb(pid))
        figures.cpu.setdefault(path, []).append(cpu_seconds(pid) - cpu_before)
        client_cpu = cpu_seconds(os.getpid()) + children_cpu_seconds() - client_cpu_before
        figures.client_cpu.setdefault(path, []).append(client_cpu)
        figures.rss_start_mb.append(start)
        figures.rss_peak_mb.append(max(v for v in peak if not math.isnan(v)) if peak else math.nan)


@contextlib.asynccontextmanager
async def timed(pid: int, figures: TransferFigures, path: str) -> AsyncIterator[None]:
    """The block's wall time, as one round of `path`, with the catalog's RSS and both sides' CPU sampled."""
    async with sampled_rss(pid, figures, path):
        started = time.perf_counter()
        yield
        figures.add(path, time.perf_counter() - started)


def write_source(path: Path, size: int) -> str:
    """A file of `size` pseudo-random bytes; its sha256 (what the client computes before uploading)."""
    digest = hashlib.sha256()
    block = os.urandom(BLOCK)
    with path.open("wb") as out:
        written = 0
        while written < size:
            # Vary every block, so no two blocks are equal (a store that deduplicated blocks would cheat).
            piece = (written.to_bytes(8, "little") + block[8:])[: size - written]
            digest.update(piece)
            out.write(piece)
            written += len(piece)
    return digest.hexdigest()


async def _file_blocks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as src:
        while block := await asyncio.to_thread(src.read, BLOCK):
            yield block


async def _ok(response: aiohttp.ClientResponse, what: str) -> bytes:
    body = await response.read()
    if response.status != 200:
        raise TransferFailed(f"{what} answered {response.status}: {body[:300]!r}")
    return body


async def create_repo(session: aiohttp.ClientSession, url: str, token: str, name: str) -> str:
    auth = {"Authorization": f"Bearer {token}"}
    async with session.post(f"{url}/api/repos/create", json={"name": name, "type": "model"}, headers=auth) as r:
        body = orjson.loads(await _ok(r, "create repo"))
    return str(body["name"]) if "name" in body else f"admin/{name}"


async def upload(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    repo_id: str,
    source: Path,
    sha256: str,
    size: int,
    *,
    with_curl: bool = False,
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    preupload = {"files": [{"path": PATH_IN_REPO, "size": size, "sample": ""}]}
    async with session.post(f"{url}/api/models/{repo_id}/preupload/main", json=preupload, headers=auth) as r:
        mode = orjson.loads(await _ok(r, "preupload"))["files"][0]["uploadMode"]
    if mode != "lfs":
        raise TransferFailed(f"preupload said {mode!r} for a {size}-byte file: expected lfs")
    batch = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": sha256, "size": size}]}
    lfs_headers = {**auth, "Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}
    async with session.post(
        f"{url}/{repo_id}.git/info/lfs/objects/batch", data=orjson.dumps(batch), headers=lfs_headers
    ) as r:
        obj = orjson.loads(await _ok(r, "LFS batch"))["objects"][0]
    action = obj.get("actions", {}).get("upload")
    if action is None:
        raise TransferFailed(f"the LFS batch asked for no upload: {obj}")
    # As the client: no Authorization on the PUT, the length announced, the bytes streamed from the file.
    put_headers = {**action.get("header", {}), "Content-Length": str(size)}
    if with_curl:
        await curl(["-T", str(source), "-X", "PUT", action["href"]], put_headers, "LFS upload with curl")
    else:
        async with session.put(action["href"], data=_file_blocks(source), headers=put_headers) as r:
            await _ok(r, "LFS upload")
    lines = [
        {"key": "header", "value": {"summary": f"Upload {PATH_IN_REPO}", "description": ""}},
        {"key": "lfsFile", "value": {"path": PATH_IN_REPO, "algo": "sha256", "oid": sha256, "size": size}},
    ]
    body = b"\n".join(orjson.dumps(line) for line in lines)
    commit_headers = {**auth, "Content-Type": "application/x-ndjson"}
    async with session.post(f"{url}/api/models/{repo_id}/commit/main", data=body, headers=commit_headers) as r:
        await _ok(r, "commit")


async def download(session: aiohttp.ClientSession, url: str, token: str, repo_id: str, target: Path, size: int) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    received = 0
    async with session.get(f"{url}/{repo_id}/resolve/main/{PATH_IN_REPO}", headers=auth) as r:
        if r.status != 200:
            raise TransferFailed(f"download answered {r.status}: {(await r.read())[:300]!r}")
        with target.open("wb") as out:
            async for piece in r.content.iter_chunked(DOWNLOAD_PIECE):
                out.write(piece)
                received += len(piece)
    if received != size:
        raise TransferFailed(f"downloaded {received} bytes of {size}")


async def curl(args: list[str], headers: dict[str, str], what: str) -> bytes:
    """Run curl with these arguments; the headers go through its config on stdin, not its command line (where
    any process on the machine could read a token). Fails on a status >= 400 or any transfer error; returns
    what curl wrote to its standard output."""
    config = "".join(f'header = "{name}: {value}"\n' for name, value in headers.items())
    process = await asyncio.create_subprocess_exec(
        "curl", "--silent", "--show-error", "--fail", "--config", "-", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(CURL_TIMEOUT):
            stdout, stderr = await process.communicate(config.encode())
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise TransferFailed(f"{what}: curl exited with {process.returncode}: {stderr.decode(errors='replace')[:300]}")
    return stdout


async def download_with_curl(url: str, token: str, repo_id: str, target: Path | None, size: int) -> None:
    """The download with curl into `target`, or with its bytes thrown away (None: counted, not written, the
    catalog's serving rate). Either way curl's own count of the bytes must be the file's size."""
    received = await curl(
        ["--output", str(target or os.devnull), "--write-out", "%{size_download}",
         f"{url}/{repo_id}/resolve/main/{PATH_IN_REPO}"],
        {"Authorization": f"Bearer {token}"},
        "download with curl" + ("" if target else ", discarded"),
    )  # fmt: skip
    if int(received or b"0") != size:
        raise TransferFailed(f"curl received {received.decode(errors='replace')} bytes of {size}")
    if target is not None and (written := (await asyncio.to_thread(target.stat)).st_size) != size:
        raise TransferFailed(f"curl downloaded {written} bytes of {size}")


def hash_in_memory(size: int) -> float:
    """Seconds to sha256 `size` bytes already in memory, on one core (hashlib, as the catalog does). The sha256 of
    one stream cannot be split across cores, so this rate bounds any upload that is verified while it streams."""
    block = os.urandom(BLOCK)
    digest = hashlib.sha256()
    started = time.perf_counter()
    for offset in range(0, size, BLOCK):
        digest.update(block[: size - offset] if size - offset < BLOCK else block)
    return time.perf_counter() - started


def same_ends(a: Path, b: Path) -> bool:
    """The first and last MiB of two files of equal size are equal (a cheap check that the bytes came back)."""
    with a.open("rb") as x, b.open("rb") as y:
        if x.read(1 << 20) != y.read(1 << 20):
            return False
        x.seek(-min(1 << 20, a.stat().st_size), os.SEEK_END)
        y.seek(-min(1 << 20, b.stat().st_size), os.SEEK_END)
        return x.read() == y.read()


async def measure(url: str, token: str, pid: int, scratch: Path, size: int, repeats: int) -> TransferFigures:
    """`repeats` rounds of copy, upload and download of one `size`-byte file, in that order each round."""
    source = scratch / "source.bin"
    say(f"writing a {size / 1e6:,.0f} MB source file in {scratch}")
    sha256 = await asyncio.to_thread(write_source, source, size)
    # This process holds the benchmark's own heap (services, asyncpg, the listing phases' data), which a client
    # does not: every full collection walked it again while bytes streamed (~7 % of this process's CPU samples
    # during the transfers). Out of the collector's sight from here on, as the catalog's own heap is.
    gc.freeze()
    # A client session of its own, reading in large pieces (aiohttp's default 64 KiB read buffer would make this
    # process, not the catalog, the bottleneck: httpx, under huggingface_hub, reads 10 MB at a time).
    async with aiohttp.ClientSession(read_bufsize=BLOCK) as session:
        figures = await _rounds(session, url, token, pid, scratch, source, sha256, size, repeats)
    source.unlink()
    return figures


async def _rounds(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    pid: int,
    scratch: Path,
    source: Path,
    sha256: str,
    size: int,
    repeats: int,
) -> TransferFigures:
    figures = TransferFigures(size)
    with_curl = shutil.which("curl") is not None
    if not with_curl:
        say("curl is not installed: no cross-check of the rates with a plain C client")
    target = scratch / "download.bin"
    for round_ in range(1, repeats + 1):
        copy = scratch / "copy.bin"
        started = time.perf_counter()
        await asyncio.to_thread(shutil.copyfile, source, copy)
        figures.add(COPY, time.perf_counter() - started)
        copy.unlink()
        figures.add(SHA256, await asyncio.to_thread(hash_in_memory, size))

        paths = (UPLOAD, DOWNLOAD) + ((CURL_UPLOAD, CURL_DOWNLOAD) if with_curl else ())
        for up, down in zip(paths[::2], paths[1::2], strict=True):
            # A new repo for each upload, so the LFS batch asks for the bytes every time.
            repo_id = await create_repo(session, url, token, f"transfer-{round_}-{time.time_ns()}")
            async with timed(pid, figures, up):
                await upload(session, url, token, repo_id, source, sha256, size, with_curl=up == CURL_UPLOAD)
            async with timed(pid, figures, down):
                if down == CURL_DOWNLOAD:
                    await download_with_curl(url, token, repo_id, target, size)
                else:
                    await download(session, url, token, repo_id, target, size)
            if not await asyncio.to_thread(same_ends, source, target):
                raise TransferFailed(f"the file downloaded ({down}) differs from the uploaded one")
            target.unlink()
            if down == CURL_DOWNLOAD:
                async with timed(pid, figures, CURL_SERVED):
                    await download_with_curl(url, token, repo_id, None, size)
        if with_curl:
            paths = (*paths, CURL_SERVED)
        rates = {path: size / 1e6 / figures.seconds[path][-1] for path in (COPY, SHA256, *paths)}
        cpu = {path: figures.cpu[path][-1] for path in paths}
        say(
            f"transfer round {round_}/{repeats}: "
            + ", ".join(f"{p} {r:,.0f} MB/s" for p, r in rates.items())
            + "; catalog CPU: "
            + ", ".join(f"{p} {c:.2f} s" for p, c in cpu.items())
        )
    return figures


def remove_scratch(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
