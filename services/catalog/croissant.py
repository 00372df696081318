"""A dataset's Croissant 1.0 JSON-LD (https://mlcommons.org/croissant/1.0), in the shape the Hub serves.

One `FileObject` for the repo at the revision holding the parquet files, one `FileSet` of parquet files
per config, and per config a `RecordSet` whose fields are the parquet columns. For converted datasets
(`{config}/{split}/NNNN.parquet`) a `{config}_splits` record set enumerates the splits, and each record
carries its split, read from the file's path. Columns of types Croissant has no data type for are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
# The Hub's placeholder: a git repo has no single checksum (https://github.com/mlcommons/croissant/issues/80).
NO_CHECKSUM = "https://github.com/mlcommons/croissant/issues/80"

# The standard 1.0 context, as the format's examples (and mlcroissant) have it.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


@dataclass(frozen=True)
class CroissantInput:
    dataset_id: str
    url: str
    """The dataset's page (`{endpoint}/datasets/{id}`)."""
    tree_url: str
    """The repo at the revision holding the parquet files."""
    description: str
    license: str | None
    configs: dict[str, dict[str, list[str]]]
    """config -> split -> parquet paths."""
    schemas: dict[str, pa.Schema]
    """config -> the columns of its parquet files."""
    splits_in_paths: bool
    """True when the paths are `{config}/{split}/...` (a conversion), so a record's split can be read from them."""


def data_type(arrow: pa.DataType) -> str | None:
    """Croissant's data type for a parquet column, or None when it has none."""
    checks = (
        (pa.types.is_boolean, "sc:Boolean"),
        (pa.types.is_integer, "sc:Integer"),
        (pa.types.is_floating, "sc:Float"),
        (pa.types.is_decimal, "sc:Float"),
        (pa.types.is_string, "sc:Text"),
        (pa.types.is_large_string, "sc:Text"),
        (pa.types.is_timestamp, "sc:Date"),
        (pa.types.is_date, "sc:Date"),
    )
    return next((name for check, name in checks if check(arrow)), None)


def _id(*parts: str) -> str:
    """An @id: the parts joined by `/`, each with characters other than letters, digits, `-`, `_`, `.` as `_`."""
    return "/".join(re.sub(r"[^\w.-]", "_", part) for part in parts)


def document(given: CroissantInput) -> dict[str, Any]:
    distribution: list[dict[str, Any]] = [
        {
            "@type": "cr:FileObject",
            "@id": "repo",
            "name": "repo",
            "description": "The Hugging Face git repository.",
            "contentUrl": given.tree_url,
            "encodingFormat": "git+https",
            "sha256": NO_CHECKSUM,
        }
    ]
    record_sets: list[dict[str, Any]] = []
    for config, splits in given.configs.items():
        files_id = _id(f"parquet-files-for-config-{config}")
        distribution.append(
            {
                "@type": "cr:FileSet",
                "@id": files_id,
                "name": files_id,
                "description": "The underlying Parquet files as converted by Hugging Face (see: "
                "https://huggingface.co/docs/dataset-viewer/parquet).",
                "containedIn": {"@id": "repo"},
                "encodingFormat": "application/x-parquet",
                "includes": f"{config}/*/*.parquet"
                if given.splits_in_paths
                else sorted({p for f in splits.values() for p in f}),
            }
        )
        fields: list[dict[str, Any]] = []
        record_id = _id(config)
        if given.splits_in_paths:
            splits_id = _id(f"{config}_splits")
            record_sets.append(
                {
                    "@type": "cr:RecordSet",
                    "dataType": "cr:Split",
                    "key": {"@id": f"{splits_id}/split_name"},
                    "@id": splits_id,
                    "name": splits_id,
                    "description": f"Splits for the {config} config.",
                    "field": [
                        {
                            "@type": "cr:Field",
                            "@id": f"{splits_id}/split_name",
                            "name": "split_name",
                            "description": "The name of the split.",
                            "dataType": "sc:Text",
                        }
                    ],
                    "data": [{f"{splits_id}/split_name": split} for split in splits],
                }
            )
            alternatives = "|".join(re.escape(split) for split in splits)
            fields.append(
                {
                    "@type": "cr:Field",
                    "@id": f"{record_id}/split",
                    "name": "split",
                    "description": "Split to which the example belongs to.",
                    "dataType": "sc:Text",
                    "source": {
                        "fileSet": {"@id": files_id},
                        "extract": {"fileProperty": "fullpath"},
                        "transform": {"regex": f"{re.escape(config)}/(?:partial-)?({alternatives})/.+parquet$"},
                    },
                    "references": {"field": {"@id": f"{splits_id}/split_name"}},
                }
            )
        for column in given.schemas[config]:
            if (kind := data_type(column.type)) is None:
                continue
            fields.append(
                {
                    "@type": "cr:Field",
                    "@id": _id(config, column.name),
                    "name": _id(config, column.name),
                    "description": f"Column '{column.name}' from the Hugging Face parquet file.",
                    "dataType": kind,
                    "source": {"fileSet": {"@id": files_id}, "extract": {"column": column.name}},
                }
            )
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": record_id,
                "name": record_id,
                "description": f"{given.dataset_id} - '{config}' subset",
                "field": fields,
            }
        )
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": _id(given.dataset_id.split("/", 1)[1]),
        "description": given.description or f"{given.dataset_id}, a dataset of this hub.",
        "alternateName": [given.dataset_id],
        "url": given.url,
        "distribution": distribution,
        "recordSet": record_sets,
    }
    if given.license:
        doc["license"] = given.license
    return doc
