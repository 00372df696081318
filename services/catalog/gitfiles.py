"""Git's view of files, as the Hub shows it: blob ids, LFS pointers, paths, `.gitattributes`."""

from __future__ import annotations

import hashlib
from fnmatch import fnmatchcase

from services.catalog.errors import catalog_error

MAX_PATH_CHARS = 1024

# What a new repo's first commit holds, as on the Hub: which files go to LFS.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*",
        "*.lz4", "*.mds", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
        "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
        "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst",
        "*tfevents*", "*.gguf", "*.ggml", "*.db", "*.wav", "*.mp3", "*.ogg", "*.flac", "*.jpg", "*.jpeg",
        "*.png", "*.webp", "*.mp4", "*.avi",
    )
).encode()  # fmt: skip


def git_blob_oid(data: bytes) -> str:
    """The id git gives a file's content: sha1 of `blob <size>\\0` + content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The pointer git stores in place of an LFS file; the Hub's oid of an LFS file is this pointer's blob id."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def tree_oid(entries: list[tuple[str, str]]) -> str:
    """A stable 40-hex id for a folder, from its (path, oid) entries: changes whenever anything under it does."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path, oid in sorted(entries):
        digest.update(f"{path}\0{oid}\n".encode())
    return digest.hexdigest()


def clean_path(path: object, what: str = "path") -> str:
    """`path` if it is a safe relative file path in a repo, else a 400 that says what is wrong with it."""
    if not isinstance(path, str) or not path:
        raise catalog_error(400, "InvalidPath", f"{what} must be a non-empty string")
    shown = repr(path[:200])
    if "\0" in path or any(ord(c) < 32 for c in path):
        raise catalog_error(400, "InvalidPath", f"{what} {shown} contains a NUL or control character")
    if len(path) > MAX_PATH_CHARS:
        raise catalog_error(400, "InvalidPath", f"{what} is longer than {MAX_PATH_CHARS} characters")
    if path.startswith("/") or "\\" in path:
        raise catalog_error(400, "InvalidPath", f"{what} {shown} must be relative and use '/' as separator")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise catalog_error(400, "InvalidPath", f"{what} {shown} has an empty, '.' or '..' segment")
    if parts[0] == ".git":
        raise catalog_error(400, "InvalidPath", f"{what} {shown} is inside .git/, which is reserved")
    return path


def clean_folder(path: object, what: str = "path") -> str:
    """A folder path as clients send it (often with a trailing '/'), without the slash."""
    if isinstance(path, str) and path.endswith("/"):
        path = path[:-1]
    return clean_path(path, what)


def lfs_patterns(gitattributes: bytes) -> list[str]:
    patterns = []
    for line in gitattributes.decode("utf-8", "replace").splitlines():
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
            patterns.append(fields[0])
    return patterns


def matches_lfs(path: str, patterns: list[str]) -> bool:
    """Git's rule, as far as the Hub's patterns use it: no '/' in a pattern matches the file name only."""
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        if "/" in pattern.strip("/"):
            # `saved_model/**/*`: anything below that folder, at any depth.
            if fnmatchcase(path, pattern.lstrip("/").replace("/**/", "/*")):
                return True
        elif fnmatchcase(name, pattern.strip("/")):
            return True
    return False


def looks_binary(sample: bytes) -> bool:
    """A NUL byte or bytes that are not UTF-8 in the first 512 bytes: the Hub sends such files to LFS."""
    if b"\0" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start < len(sample) - 3
    return False
