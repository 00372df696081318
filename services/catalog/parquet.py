"""Which parquet files make up each config and split of a dataset stored as parquet.

Configs come from the README's YAML `configs:` list when it has one (the Hub's
and `datasets`' rule); otherwise one config, `default`, whose splits follow the
file-name conventions (`train`/`validation`/`test` as a folder name or a file
name prefix; everything else is `train`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

DEFAULT_CONFIG = "default"
# `datasets`' split keywords, in the order it tries them.
SPLIT_KEYWORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}


@dataclass(frozen=True)
class ConfigSpec:
    name: str
    data_files: dict[str, list[str]]  # split -> glob patterns


def card_configs(readme: str) -> list[ConfigSpec] | None:
    """The `configs:` of a README's YAML front matter, or None when it declares none (or cannot be read)."""
    text = readme.replace("\r\n", "\n")
    if not text.startswith("---\n") or (end := text.find("\n---", 4)) < 0:
        return None
    try:
        metadata = yaml.safe_load(text[4:end])
    except yaml.YAMLError:
        return None
    configs = metadata.get("configs") if isinstance(metadata, dict) else None
    if not isinstance(configs, list):
        return None
    specs = []
    for item in configs:
        if not isinstance(item, dict) or not isinstance(item.get("config_name", DEFAULT_CONFIG), str):
            continue
        data_dir = str(item.get("data_dir") or "").strip("/")
        files = _split_patterns(item.get("data_files", "**"))
        if data_dir:
            files = {split: [f"{data_dir}/{p}" for p in patterns] for split, patterns in files.items()}
        specs.append(ConfigSpec(item.get("config_name", DEFAULT_CONFIG), files))
    return specs or None


def _split_patterns(data_files: object) -> dict[str, list[str]]:
    if isinstance(data_files, str):
        return {"train": [data_files]}
    if not isinstance(data_files, list):
        return {}
    if all(isinstance(p, str) for p in data_files):
        return {"train": list(data_files)}
    splits: dict[str, list[str]] = {}
    for entry in data_files:
        if isinstance(entry, dict) and isinstance(entry.get("split"), str):
            path = entry.get("path")
            patterns = [path] if isinstance(path, str) else [p for p in path or [] if isinstance(p, str)]
            splits.setdefault(entry["split"], []).extend(patterns)
    return splits


def _matches(path: str, pattern: str) -> bool:
    """Glob matching as `datasets` does it: `*` and `?` stay inside a folder, `**` crosses folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i])))
            i += 1
    return re.fullmatch("".join(out), path.lstrip("/")) is not None


def _split_by_convention(path: str) -> str | None:
    parts = path.lower().split("/")
    for split, words in SPLIT_KEYWORDS.items():
        for word in words:
            if word in parts[:-1] or re.match(rf"{word}(?:[-._ 0-9]|$)", parts[-1]):
                return split
    return None


def layout(
    paths: list[str], readme: str | None, suffixes: tuple[str, ...] = (".parquet",)
) -> dict[str, dict[str, list[str]]]:
    """config -> split -> data files (sorted) ending in one of `suffixes`, for the files of one revision."""
    parquet = sorted(p for p in paths if p.lower().endswith(suffixes))
    specs = card_configs(readme) if readme is not None else None
    if specs is not None:
        result: dict[str, dict[str, list[str]]] = {}
        for spec in specs:
            splits = _spec_files(spec, parquet)
            if kept := {split: files for split, files in splits.items() if files}:
                result[spec.name] = kept
        return result
    by_split: dict[str, list[str]] = {}
    for path in parquet:
        split = _split_by_convention(path)
        by_split.setdefault(split or "", []).append(path)
    if set(by_split) - {""} and "" in by_split:
        del by_split[""]  # files outside any split, beside files that have one, are not data (as in `datasets`)
    if "" in by_split:
        by_split = {"train": by_split.pop("")}
    return {DEFAULT_CONFIG: by_split} if by_split else {}


def _spec_files(spec: ConfigSpec, paths: list[str]) -> dict[str, list[str]]:
    return {
        split: sorted({p for p in paths for pattern in patterns if _matches(p, pattern)})
        for split, patterns in spec.data_files.items()
    }


def unmatched_card_splits(paths: list[str], readme: str | None) -> list[tuple[str, str, list[str]]]:
    """(config, split, patterns) of the README's `configs` whose `data_files` name no file of the revision."""
    specs = card_configs(readme) if readme is not None else None
    return [
        (spec.name, split, spec.data_files[split])
        for spec in specs or []
        for split, files in _spec_files(spec, paths).items()
        if not files
    ]
