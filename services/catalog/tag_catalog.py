"""The tags offered per type (`/api/models-tags-by-type`, `/api/datasets-tags-by-type`): a fixed vocabulary.

Clients return the JSON as it is; a UI builds its filter menus from it. The values are the ones card metadata
turns into tags (services/catalog/cards.py), so each one can be passed back as `filter=`.
"""

from __future__ import annotations

from typing import Any

_TASKS = {
    "nlp": (
        "text-classification",
        "token-classification",
        "question-answering",
        "summarization",
        "translation",
        "text-generation",
        "fill-mask",
        "sentence-similarity",
        "zero-shot-classification",
        "feature-extraction",
    ),
    "cv": ("image-classification", "object-detection", "image-segmentation", "text-to-image", "image-to-text"),
    "audio": ("automatic-speech-recognition", "audio-classification", "text-to-speech"),
    "tabular": ("tabular-classification", "tabular-regression"),
    "multimodal": ("visual-question-answering", "document-question-answering"),
}
_LIBRARIES = ("transformers", "pytorch", "tensorflow", "jax", "safetensors", "onnx", "gguf", "diffusers", "peft")
_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "zh", "ja", "ko", "ar", "hi", "ru", "multilingual")
_LICENSES = ("apache-2.0", "mit", "bsd-3-clause", "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "openrail", "other")
_SIZES = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "n>1B")


def _label(value: str) -> str:
    return value.replace("-", " ").title() if value.islower() else value


def _entries(kind: str, values: tuple[str, ...], prefix: str = "", sub_type: str | None = None) -> list[dict[str, Any]]:
    out = []
    for value in values:
        entry: dict[str, Any] = {"id": prefix + value, "label": _label(value), "type": kind}
        if sub_type is not None:
            entry["subType"] = sub_type
        out.append(entry)
    return out


def model_tags() -> dict[str, list[dict[str, Any]]]:
    return {
        "pipeline_tag": [e for sub, tasks in _TASKS.items() for e in _entries("pipeline_tag", tasks, sub_type=sub)],
        "library": _entries("library", _LIBRARIES),
        "language": _entries("language", _LANGUAGES),
        "license": _entries("license", _LICENSES, "license:"),
    }


def dataset_tags() -> dict[str, list[dict[str, Any]]]:
    return {
        "task_categories": [
            e for sub, tasks in _TASKS.items() for e in _entries("task_categories", tasks, "task_categories:", sub)
        ],
        "language": _entries("language", _LANGUAGES, "language:"),
        "license": _entries("license", _LICENSES, "license:"),
        "size_categories": _entries("size_categories", _SIZES, "size_categories:"),
        "multilinguality": _entries(
            "multilinguality", ("monolingual", "multilingual", "translation"), "multilinguality:"
        ),
    }


TAGS_BY_TYPE = {"models": model_tags, "datasets": dataset_tags}
