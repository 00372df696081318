"""Listing and repo administration over plain HTTP: the Link header, stable pages, and bad input."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.catalog.conftest import Catalog, load_repos

NEXT = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def next_url(headers: object) -> str | None:
    link = headers.get("Link")  # type: ignore[attr-defined]
    if link is None:
        return None
    match = NEXT.match(link)
    assert match, link
    return match["url"]


async def test_next_link_is_absolute_and_carries_every_parameter(catalog: Catalog) -> None:
    await load_repos(catalog.pool, "model", [f"alice/m{i:02d}" for i in range(12)], tags=lambda i: ["a", "b"])
    query = "search=m&author=alice&filter=a&filter=b&sort=likes&direction=-1&limit=5&full=true"
    status, headers, body = await catalog.call("GET", f"/api/models?{query}")
    assert status == 200, body
    assert len(body) == 5
    url = next_url(headers)
    assert url is not None
    assert url.startswith(f"{catalog.url}/api/models?")
    sent = parse_qsl(query)
    carried = parse_qsl(urlsplit(url).query)
    assert [p for p in carried if p[0] != "cursor"] == sent
    assert [k for k, _ in carried].count("cursor") == 1

    seen = [r["id"] for r in body]
    while url is not None:
        status, headers, body = await catalog.call("GET", url.removeprefix(catalog.url))
        assert status == 200, body
        seen += [r["id"] for r in body]
        url = next_url(headers)
    assert sorted(seen) == [f"alice/m{i:02d}" for i in range(12)]
    assert len(seen) == 12  # the last page has no Link


@pytest.mark.parametrize("sort", ["id", "createdAt", "lastModified"])
async def test_pages_stay_stable_while_repos_are_created(catalog: Catalog, sort: str) -> None:
    token = await catalog.user("zed")
    original = [f"user{i % 5}/r-{i:03d}" for i in range(40)]
    await load_repos(catalog.pool, "dataset", original)
    seen: list[str] = []
    url: str | None = f"/api/datasets?sort={sort}&limit=6"
    created = 0
    while url is not None:
        status, headers, body = await catalog.call("GET", url)
        assert status == 200, body
        seen += [r["id"] for r in body]
        # Between pages, new repos land before, after and among the ones still to come.
        for name in (f"r-{created:03d}a", f"a-{created}", f"z-{created}"):
            status, _, body = await catalog.call(
                "POST", "/api/repos/create", token=token, json={"name": name, "type": "dataset"}
            )
            assert status == 200, body
        created += 1
        url = next_url(headers)
        url = url.removeprefix(catalog.url) if url else None
    assert len(seen) == len(set(seen)), "a repo was listed twice"
    assert set(original) <= set(seen), "a repo that existed before the listing was skipped"


BAD_QUERIES = [
    ("sort=popularity", "sort='popularity' is not a sort key"),
    ("limit=0", "limit=0 must be at least 1"),
    ("limit=-3", "limit=-3 must be at least 1"),
    ("limit=ten", "limit='ten' is not a whole number"),
    ("direction=up", "direction='up' must be -1"),
    ("full=maybe", "full='maybe' is not a boolean"),
    ("expand=secrets", "expand='secrets' is not a model property"),
    ("cursor=not-a-cursor", "cursor is not one this server made"),
    ("cursor=WyJpZCIsZmFsc2UsbnVsbCwiYS9iIl0&sort=likes", "cursor belongs to a listing in another order"),
    ("search=" + "x" * 300, "search is limited to 250 characters"),
]


@pytest.mark.parametrize(("query", "message"), BAD_QUERIES)
async def test_bad_listing_parameters_get_a_400_in_the_hubs_shape(catalog: Catalog, query: str, message: str) -> None:
    status, headers, body = await catalog.call("GET", f"/api/models?{query}")
    assert status == 400, body
    assert headers["X-Error-Code"] == "InvalidParameter"
    assert message in body["error"]
    assert headers["X-Request-Id"]


async def test_a_nul_byte_in_a_filter_is_a_400_not_a_500(catalog: Catalog) -> None:
    status, headers, body = await catalog.call("GET", "/api/models?author=a%00b")
    assert status == 400, body
    assert headers["X-Error-Code"] == "InvalidInput"


async def test_bad_repo_administration_requests_get_clear_400s(catalog: Catalog) -> None:
    token = await catalog.user("alice")
    assert (await catalog.call("POST", "/api/repos/create", token=token, json={"name": "ok"}))[0] == 200
    cases = [
        ("POST", "/api/repos/create", {"name": "bad name"}, "InvalidName"),
        ("POST", "/api/repos/create", {"name": "x", "type": "kernel"}, "ValidationError"),
        ("POST", "/api/repos/create", {"name": "s", "type": "space", "sdk": "flash"}, "ValidationError"),
        ("POST", "/api/repos/move", {"fromRepo": "alice/ok", "toRepo": "no-slash"}, "InvalidName"),
        ("POST", "/api/repos/move", {"fromRepo": "alice/ok", "toRepo": "a/b/c"}, "InvalidName"),
        ("POST", "/api/repos/move", {"fromRepo": "alice/ok", "toRepo": "alice/.."}, "InvalidName"),
        ("POST", "/api/repos/move", {"fromRepo": "alice/ok", "toRepo": "alice/ok"}, "InvalidName"),
        ("DELETE", "/api/repos/delete", {"name": "../etc"}, "InvalidName"),
        ("PUT", "/api/models/alice/ok/settings", {"gated": True}, "ValidationError"),
        ("PUT", "/api/models/alice/ok/settings", {"visibility": "secret"}, "ValidationError"),
    ]
    for method, path, body, code in cases:
        status, headers, answer = await catalog.call(method, path, token=token, json=body)
        assert (status, headers["X-Error-Code"]) == (400, code), (path, body, answer)
        assert answer["error"]
    status, headers, answer = await catalog.call("PUT", "/api/models/alice/ok/settings", token=token, data=b"{nope")
    assert (status, headers["X-Error-Code"]) == (400, "InvalidJson")
    status, _, info = await catalog.call("GET", "/api/models/alice/ok", token=token)
    assert (status, info["private"], info["gated"]) == (200, False, False)  # untouched by all of the above


async def test_old_names_redirect_only_for_those_who_may_read(catalog: Catalog) -> None:
    token = await catalog.user("alice")
    for name, private in (("pub", False), ("priv", True)):
        body = {"name": name, "type": "dataset", "private": private}
        assert (await catalog.call("POST", "/api/repos/create", token=token, json=body))[0] == 200
        body = {"fromRepo": f"alice/{name}", "toRepo": f"alice/{name}-new", "type": "dataset"}
        assert (await catalog.call("POST", "/api/repos/move", token=token, json=body))[0] == 200

    status, headers, _ = await catalog.call("GET", "/api/datasets/alice/pub?expand=private")
    assert status == 307
    assert headers["Location"] == "/api/datasets/alice/pub-new?expand=private"
    status, headers, _ = await catalog.call("GET", "/api/datasets/alice/priv")
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")  # the new name is not revealed
    status, headers, _ = await catalog.call("GET", "/api/datasets/alice/priv", token=token)
    assert (status, headers["Location"]) == (307, "/api/datasets/alice/priv-new")
    status, headers, _ = await catalog.call("GET", "/api/models/alice/pub")  # another type: no redirect
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")
    status, headers, _ = await catalog.call("GET", "/api/datasets/ali%00ce/pub")  # no name a repo can have had
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")


async def test_tags_by_type_are_filters_that_work(catalog: Catalog) -> None:
    status, _, models = await catalog.call("GET", "/api/models-tags-by-type")
    assert status == 200
    assert {"pipeline_tag", "library", "language", "license"} <= set(models)
    status, _, datasets = await catalog.call("GET", "/api/datasets-tags-by-type")
    assert status == 200
    license_tag = datasets["license"][0]["id"]
    assert license_tag.startswith("license:")
    await load_repos(catalog.pool, "dataset", ["alice/a", "alice/b"], tags=lambda i: [license_tag] if i else [])
    status, _, listed = await catalog.call("GET", f"/api/datasets?filter={license_tag}")
    assert [d["id"] for d in listed] == ["alice/b"]


@pytest.mark.parametrize("page", ["-5", "99999999999999999999", "1000001", "two"])
async def test_a_bad_discussions_page_is_a_hub_400_naming_p(catalog: Catalog, page: str) -> None:
    # Found by exploratory testing: p=-5 was a 422 (no status of the Hub's), and p=99999999999999999999 reached
    # PostgreSQL, whose "bigint out of range" came back as the error.
    token = await catalog.user("dora")
    assert (await catalog.call("POST", "/api/repos/create", token=token, json={"name": "talk"}))[0] == 200
    status, headers, body = await catalog.call("GET", f"/api/models/dora/talk/discussions?p={page}")
    assert (status, headers["X-Error-Code"]) == (400, "ValidationError"), body
    assert "p:" in body["error"]
