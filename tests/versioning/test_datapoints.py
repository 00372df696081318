"""A datapoint's identity is its canonical content."""

from __future__ import annotations

import math

import pytest

from services.versioning.datapoints import InvalidDatapoints, parse, unique


def one(raw: dict) -> bytes:
    [point] = parse([raw])
    return point.hash


def test_key_order_and_absent_fields_do_not_change_the_hash() -> None:
    a = {"inputs": {"q": "x", "lang": "en"}, "target": {"a": {"b": 1, "c": [1, 2]}}}
    b = {"target": {"a": {"c": [1, 2], "b": 1}}, "inputs": {"lang": "en", "q": "x"}, "messages": None}
    assert one(a) == one(b)
    assert one({**a, "messages": []}) == one(a)


def test_any_difference_in_content_does() -> None:
    base = {"inputs": {"q": "x"}, "target": {"a": 1}}
    assert one(base) != one({"inputs": {"q": "x", "_dedupe_id": "1"}, "target": {"a": 1}})
    assert one(base) != one({"inputs": {"q": "x"}, "target": {"a": 2}})
    assert one(base) != one({"inputs": {"q": "x"}, "target": {"a": [1]}})
    assert one({"messages": [{"role": "user", "content": "hi"}]}) != one(
        {"messages": [{"role": "assistant", "content": "hi"}]}
    )


def test_repeats_are_dropped_keeping_the_first() -> None:
    points = parse([{"inputs": {"q": "1"}}, {"inputs": {"q": "2"}}, {"inputs": {"q": "1"}}])
    kept, repeats = unique(points)
    assert [p.content["inputs"]["q"] for p in kept] == ["1", "2"]
    assert repeats == 1


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_where_they_are(value: float) -> None:
    with pytest.raises(InvalidDatapoints) as caught:
        parse([{"inputs": {"q": "1"}}, {"target": {"scores": [1.0, value]}}])
    assert caught.value.details[0]["loc"] == ["body", "datapoints", 1, "target", "scores", 1]


@pytest.mark.parametrize(
    "raw",
    [
        [{"inputs": {"n": 1}}],  # inputs are strings
        [{"inputs": "q"}],
        [{"messages": [{"content": "no role"}]}],
        [{}],  # nothing at all
        "not a list",
    ],
)
def test_wrong_shapes_say_where(raw: object) -> None:
    with pytest.raises(InvalidDatapoints) as caught:
        parse(raw)
    assert caught.value.details
    assert caught.value.details[0]["loc"][:2] == ["body", "datapoints"]


def test_nul_characters_are_refused_before_the_database_sees_them() -> None:
    with pytest.raises(InvalidDatapoints) as caught:
        parse([{"inputs": {"q": "a\x00b"}}])
    assert caught.value.details[0]["loc"] == ["body", "datapoints", 0, "inputs", "q"]
    assert caught.value.details[0]["type"] == "string_nul"
