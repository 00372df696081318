"""Configs and splits of a dataset stored as parquet: the README's `configs`, else file-name conventions."""

from __future__ import annotations

from services.catalog.parquet import layout


def test_file_name_conventions() -> None:
    paths = [
        "README.md",
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
        "data/validation-00000-of-00001.parquet",
        "test/part0.parquet",
        "notes.txt",
    ]
    assert layout(paths, None) == {
        "default": {
            "train": ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"],
            "validation": ["data/validation-00000-of-00001.parquet"],
            "test": ["test/part0.parquet"],
        }
    }
    assert layout(["a.parquet", "b/c.parquet"], None) == {"default": {"train": ["a.parquet", "b/c.parquet"]}}
    assert layout(["data.csv"], None) == {}
    assert layout(["trainer_notes.parquet", "training.parquet"], None) == {
        "default": {"train": ["training.parquet"]}  # "trainer" is not the keyword "train"
    }


def test_readme_configs_win() -> None:
    readme = """---
configs:
- config_name: en
  data_files:
  - split: train
    path: en/train-*.parquet
  - split: test
    path: [en/test.parquet]
- config_name: fr
  data_dir: fr
  data_files: "**/*.parquet"
- config_name: empty
  data_files: nothing/*.parquet
---
# Multilingual
"""
    paths = ["en/train-0.parquet", "en/train-1.parquet", "en/test.parquet", "fr/a/b.parquet", "fr/c.parquet"]
    assert layout(paths, readme) == {
        "en": {"train": ["en/train-0.parquet", "en/train-1.parquet"], "test": ["en/test.parquet"]},
        "fr": {"train": ["fr/a/b.parquet", "fr/c.parquet"]},
    }
    # A README without configs (or with broken YAML) falls back to the conventions.
    assert layout(["train.parquet"], "---\nlicense: mit\n---\n") == {"default": {"train": ["train.parquet"]}}
    assert layout(["train.parquet"], "---\n: : [\n---\n") == {"default": {"train": ["train.parquet"]}}
