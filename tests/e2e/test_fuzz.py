"""Schemathesis over the three services' OpenAPI documents, against the services running on real PostgreSQL and Kafka.

Every operation of each served `/openapi.json` gets generated requests, valid
and invalid (schemathesis' examples, coverage and fuzzing phases, bounded by
`FUZZ_CONFIG`), each sent three times: with a valid token, with none and with
a token that is not valid. Every answer must not be a server error, must have
a documented status, content type and headers, and a body that matches the
documented schema; invalid input must be refused with a 4xx. Without a valid
token, a route that needs one must answer 401, and a wrong token is refused
on every API route.

Run it alone: `.venv/bin/pytest tests/e2e/test_fuzz.py` (with the test database
and broker variables of the README); `HUBSTREAM_FUZZ_EXAMPLES` raises the
examples per operation.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from services.registry import SERVICE_NAMES, openapi_document
from tests.conftest import config_maker, fresh_database, new_topic_prefix
from tests.e2e.conftest import register_catalog_token, running_stack

pytestmark = [
    pytest.mark.infra,
    # Schemathesis' own strategies draw from `random`; Hypothesis warns about that, and this suite turns
    # warnings into errors. It is about the tool, not about the services under test.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES = int(os.environ.get("HUBSTREAM_FUZZ_EXAMPLES", "25"))
FUZZ_CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "max-examples": EXAMPLES,
            # Tokens are ours to send (valid, none, wrong), not generated.
            "with-security-parameters": False,
            "database": "none",  # every run starts fresh: no example store under .hypothesis/
        },
        "request-timeout": 10,
        "phases": {"stateful": {"enabled": False}},
    }
)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> bytes:
    """The catalog's commit body: a list of objects goes one per line (anything else, generated to break the
    schema, as one line). The standard library's json: generated integers may exceed 64 bits."""
    if isinstance(value, list):
        return "\n".join(json.dumps(item) for item in value).encode()
    return json.dumps(value).encode()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
]
BAD_TOKEN = "hf_" + "x" * 40
NO_SUCH_ROUTE = "no such route: check the method and path"  # the router's 404 (services/runtime/errors.py)


@dataclass(frozen=True)
class LiveStack:
    urls: dict[str, str]
    token: str


@pytest.fixture(scope="module")
def live_stack(
    postgres_server_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """The three services, up for the whole module in a thread of their own.

    Schemathesis calls them synchronously from the test, so they cannot share the
    test's event loop; they get a loop (and a database and topics) of their own.
    """
    ready: Future[tuple[LiveStack, asyncio.AbstractEventLoop, asyncio.Event]] = Future()

    async def serve() -> None:
        stop = asyncio.Event()
        async with fresh_database(postgres_server_url) as database_url:
            make_config = config_maker(
                database_url,
                kafka_bootstrap,
                await new_topic_prefix(kafka_bootstrap),
                tmp_path_factory.mktemp("fuzz") / "home",
            )
            # Versioning's publish and import call the catalog with a token of their own: a real one, so
            # what the catalog answers (a 404 for a random repo) is what the fuzzing sees.
            catalog_token = "hf_" + secrets.token_hex(16)
            with pytest.MonkeyPatch.context() as env:
                env.setenv("HUBSTREAM_VERSIONING_CATALOG_TOKEN", catalog_token)
                async with running_stack(make_config) as stack:
                    await register_catalog_token(stack, "admin", catalog_token)
                    urls = {name: stack.url(name, "") for name in SERVICE_NAMES}
                    ready.set_result((LiveStack(urls, stack.admin_token), asyncio.get_running_loop(), stop))
                    await stop.wait()

    stopped: Future[None] = Future()  # how the thread ended, for the fixture to report

    def run() -> None:
        try:
            asyncio.run(serve())
            stopped.set_result(None)
        except BaseException as exc:
            (stopped if ready.done() else ready).set_exception(exc)

    thread = threading.Thread(target=run, name="fuzzed-stack", daemon=True)
    thread.start()
    stack, loop, stop = ready.result(timeout=120)  # raises what kept the stack from starting
    try:
        yield stack
    finally:
        loop.call_soon_threadsafe(stop.set)
        stopped.result(timeout=60)  # raises what failed while it ran or stopped


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_service_serves_its_document(service: str, live_stack: LiveStack) -> None:
    response = requests.get(f"{live_stack.urls[service]}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == openapi_document(service), f"{service} serves a document other than the exported one"


def _token_headers(service: str, token: str) -> dict[str, str]:
    return {"X-API-KEY": token} if service == "versioning" else {"Authorization": f"Bearer {token}"}


def exercise(case: schemathesis.Case, service: str, stack: LiveStack) -> None:
    """Send `case` with a valid token, with none and with a wrong one; check every answer."""
    security = case.operation.definition.raw.get("security", [])
    takes_token = bool(security)  # ops routes take none
    needs_token = takes_token and {} not in security  # {} is "anonymous allowed"
    for who, headers in (
        ("a valid token", _token_headers(service, stack.token)),
        ("no token", {}),
        ("a wrong token", _token_headers(service, BAD_TOKEN)),
    ):
        response = case.call(base_url=stack.urls[service], headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        refused = (who == "a wrong token" and takes_token) or (who == "no token" and needs_token)
        # The coverage phase also sends methods the path does not have: those may answer 405 first. And a path
        # whose parameters break the route's pattern (a repo type that is not one) names no route at all: on
        # a service where anonymous calls are allowed, the router's 404 comes before any view asks for a token.
        if refused and response.request.method == case.operation.method.upper() and not _no_such_route(response):
            assert response.status_code == 401, (
                f"{case.operation.label} with {who}: expected 401, got {response.status_code} {response.text[:300]}"
            )


def _no_such_route(response: Response) -> bool:
    if response.status_code != 404 or response.headers.get("x-error-code") != ["NotFound"]:
        return False
    return orjson.loads(response.content).get("error") == NO_SUCH_ROUTE


# The documents as the code declares them (the test above checks that each service serves exactly that);
# schemathesis sends the requests to the live services' addresses given in `exercise`.
SCHEMAS = {name: schemathesis.openapi.from_dict(openapi_document(name), config=FUZZ_CONFIG) for name in SERVICE_NAMES}
# /readyz takes no input and about a second per call (it opens a broker connection): it is checked once, below.
catalog, ingest, versioning = (SCHEMAS[name].exclude(path="/readyz") for name in SERVICE_NAMES)


def test_answers_about_things_that_exist_match_their_schemas(live_stack: LiveStack) -> None:
    """The success answers random input rarely reaches: a repo and a source that exist, and /readyz."""
    for service in SERVICE_NAMES:
        _check(SCHEMAS[service]["/readyz"]["GET"].Case(), service, live_stack, expect=200, headers={})

    headers = _token_headers("catalog", live_stack.token)
    user = requests.get(f"{live_stack.urls['catalog']}/api/whoami-v2", headers=headers, timeout=10).json()["name"]
    created = requests.post(
        f"{live_stack.urls['catalog']}/api/repos/create",
        json={"name": "fuzz-known", "type": "dataset"},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 200, created.text
    repo = SCHEMAS["catalog"]["/api/{type}/{namespace}/{name}"]["GET"]
    parameters = {"type": "datasets", "namespace": user, "name": "fuzz-known"}
    for sent in (headers, {}):  # a public repo reads with or without a token
        _check(repo.Case(path_parameters=parameters), "catalog", live_stack, expect=200, headers=sent)
    settings = SCHEMAS["catalog"]["/api/{type}/{namespace}/{name}/settings"]["PUT"]
    gate = settings.Case(path_parameters=parameters, body={"gated": "auto"})
    _check(gate, "catalog", live_stack, expect=200, headers=headers)
    listing = SCHEMAS["catalog"]["/api/{type}"]["GET"]
    for query in ({"full": "true", "search": ["fuzz-known"]}, {"expand": ["gated", "cardData", "sha"], "limit": 1}):
        _check(
            listing.Case(path_parameters={"type": "datasets"}, query=query),
            "catalog",
            live_stack,
            expect=200,
            headers={},
        )

    source = requests.post(
        f"{live_stack.urls['ingest']}/v2/huggingface-datasets",
        json={"url": f"{user}/fuzz-known"},
        headers=_token_headers("ingest", live_stack.token),
        timeout=10,
    )
    assert source.status_code == 200, source.text
    get_source = SCHEMAS["ingest"]["/v2/data-sources/{source_id}"]["GET"]
    source_case = get_source.Case(path_parameters={"source_id": source.json()["id"]})
    _check(source_case, "ingest", live_stack, expect=200, headers=_token_headers("ingest", live_stack.token))


def test_answers_about_files_that_exist_match_their_schemas(live_stack: LiveStack) -> None:
    """Files and history of a repo with commits, refs and an LFS object: answers random input never reaches."""
    base, headers = live_stack.urls["catalog"], _token_headers("catalog", live_stack.token)
    user = requests.get(f"{base}/api/whoami-v2", headers=headers, timeout=10).json()["name"]
    assert requests.post(f"{base}/api/repos/create", json={"name": "fuzz-files"}, headers=headers, timeout=10).ok
    lines = [
        {"key": "header", "value": {"summary": "two files", "description": "for the schemas"}},
        {
            "key": "file",
            "value": {"path": "README.md", "encoding": "base64", "content": "LS0tCmxpY2Vuc2U6IG1pdAotLS0K"},
        },
        {"key": "file", "value": {"path": "sub/a.txt", "encoding": "base64", "content": "aGVsbG8="}},
    ]
    committed = requests.post(
        f"{base}/api/models/{user}/fuzz-files/commit/main",
        data=b"\n".join(orjson.dumps(line) for line in lines),
        headers={**headers, "Content-Type": "application/x-ndjson"},
        timeout=10,
    )
    assert committed.status_code == 200, committed.text
    repo = {"type": "models", "namespace": user, "name": "fuzz-files"}
    catalog = SCHEMAS["catalog"]
    cases = [
        (catalog["/api/{type}/{namespace}/{name}/revision/{rev}"]["GET"], {"rev": "main"}, {"blobs": "true"}, None),
        (catalog["/api/{type}/{namespace}/{name}/tree/{rest}"]["GET"], {"rest": "main"}, {"recursive": "true"}, None),
        (catalog["/api/{type}/{namespace}/{name}/tree/{rest}"]["GET"], {"rest": "main/sub"}, {"expand": "true"}, None),
        (catalog["/api/{type}/{namespace}/{name}/refs"]["GET"], {}, {"include_prs": "true"}, None),
        (
            catalog["/api/{type}/{namespace}/{name}/commits/{rev}"]["GET"],
            {"rev": "main"},
            {"expand[]": ["formatted"]},
            None,
        ),
        (
            catalog["/api/{type}/{namespace}/{name}/preupload/{rev}"]["POST"],
            {"rev": "main"},
            None,
            {"files": [{"path": "sub/a.txt", "size": 5, "sample": "aGVsbG8="}, {"path": "b.bin", "size": 1 << 30}]},
        ),
        (catalog["/api/{type}/{namespace}/{name}/branch/{ref}"]["POST"], {"ref": "dev"}, None, {}),
        (catalog["/api/{type}/{namespace}/{name}/tag/{ref}"]["POST"], {"ref": "main"}, None, {"tag": "v1"}),
        (catalog["/api/{type}/{namespace}/{name}/tag/{ref}"]["DELETE"], {"ref": "v1"}, None, None),
        (catalog["/api/{type}/{namespace}/{name}/super-squash/{ref}"]["POST"], {"ref": "dev"}, None, {}),
        (catalog["/api/{type}/{namespace}/{name}/branch/{ref}"]["DELETE"], {"ref": "dev"}, None, None),
        (catalog["/{namespace}/{name}/resolve/{rest}"]["GET"], {"rest": "main/sub/a.txt"}, None, None),
        (catalog["/api/validate-yaml"]["POST"], {}, None, {"content": "---\nlicense: mit\n---\n"}),
    ]
    for operation, parameters, query, body in cases:
        path_parameters = {**repo, **parameters} if "{namespace}" in operation.path else {}
        if operation.path.startswith("/{namespace}"):
            path_parameters = {"namespace": user, "name": "fuzz-files", **parameters}
        extra = {} if body is None else {"body": body, "media_type": "application/json"}
        case = operation.Case(path_parameters=path_parameters, query=query, **extra)
        _check(case, "catalog", live_stack, expect=200, headers=headers)
    batch = catalog["/{namespace}/{name}.git/info/lfs/objects/batch"]["POST"]
    objects = [{"oid": "a" * 64, "size": 3}]
    case = batch.Case(
        path_parameters={"namespace": user, "name": "fuzz-files"},
        body={"operation": "upload", "objects": objects},
        media_type="application/json",
    )
    _check(case, "catalog", live_stack, expect=200, headers=headers)
    ranged = catalog["/{namespace}/{name}/resolve/{rest}"]["GET"].Case(
        path_parameters={"namespace": user, "name": "fuzz-files", "rest": "main/sub/a.txt"}
    )
    _check(ranged, "catalog", live_stack, expect=206, headers={**headers, "Range": "bytes=1-2"})


def test_answers_about_a_versioned_dataset_match_their_schemas(live_stack: LiveStack) -> None:
    """Every versioning route on a dataset that exists, each answer checked against the document.

    Random ids only ever reach the 404s; here each route answers its success status with a real dataset,
    versions, a deployment, a CSV upload (multipart, as documented) and both export formats.
    """
    v5 = SCHEMAS["versioning"]
    headers = _token_headers("versioning", live_stack.token)

    def check(path: str, method: str, expect: int = 200, **case: Any) -> requests.Response:
        response = v5[path][method].Case(**case).call(base_url=live_stack.urls["versioning"], headers=headers)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:300]}"
        v5[path][method].Case(**case).validate_response(response, checks=CHECKS, headers=headers)
        return response

    points = [{"inputs": {"q": "a"}, "target": {"answer": 1}}, {"messages": [{"role": "user", "content": "hi"}]}]
    v1 = check("/v5/datasets", "POST", body={"path": "fuzz/known", "datapoints": points, "version_name": "v1"}).json()
    ids = {"id": v1["id"]}
    v2 = check(
        "/v5/datasets", "POST", body={"id": v1["id"], "datapoints": [{"inputs": {"q": "b"}}], "action": "add"}
    ).json()
    version = {**ids, "version_id": v2["version_id"]}
    check("/v5/datasets", "GET", query={"name": "fuzz"})
    check("/v5/datasets/{id}", "GET", path_parameters=ids, query={"include_datapoints": True})
    check("/v5/datasets/{id}/datapoints", "GET", path_parameters=ids, query={"version_id": v1["version_id"]})
    check("/v5/datasets/{id}/versions", "GET", path_parameters=ids, query={"include_datapoints": "latest_saved"})
    diff = {"from_version_id": v1["version_id"], "to_version_id": v2["version_id"]}
    check("/v5/datasets/{id}/versions/diff", "GET", path_parameters=ids, query=diff)
    for format in ("jsonl", "csv"):
        check(
            "/v5/datasets/{id}/versions/{version_id}/export", "GET", path_parameters=version, query={"format": format}
        )
    env = {**ids, "environment_id": "staging"}
    check(
        "/v5/datasets/{id}/environments/{environment_id}",
        "POST",
        path_parameters=env,
        query={"version_id": v2["version_id"]},
    )
    check("/v5/datasets/{id}/environments", "GET", path_parameters=ids)
    check("/v5/datasets/{id}/environments/history", "GET", path_parameters=ids)
    check("/v5/datasets/{id}/environments/{environment_id}", "DELETE", 204, path_parameters=env)
    check(
        "/v5/datasets/{id}/datapoints/csv",
        "POST",
        path_parameters=ids,
        query={"version_id": v1["version_id"]},
        body={"file": b'q,target\nfrom csv,"{""answer"": 2}"\n', "version_name": "csv"},
        media_type="multipart/form-data",
    )
    check("/v5/datasets/{id}/versions/{version_id}", "PATCH", path_parameters=version, body={"name": "v2"})
    check(
        "/v5/datasets/{id}/versions/{version_id}/commit", "POST", path_parameters=version, body={"commit_message": "c"}
    )
    restore = {**ids, "version_id": v1["version_id"]}
    check("/v5/datasets/{id}/versions/{version_id}/restore", "POST", path_parameters=restore, body={})
    check("/v5/datasets/{id}/versions/{version_id}", "DELETE", 204, path_parameters=version)
    check("/v5/datasets/{id}", "PATCH", path_parameters=ids, body={"name": "moved"})
    check("/v5/datasets/{id}", "DELETE", 204, path_parameters=ids)


def _check(case: schemathesis.Case, service: str, stack: LiveStack, *, expect: int, headers: dict[str, str]) -> None:
    response = case.call(base_url=stack.urls[service], headers=headers)
    assert response.status_code == expect, f"{case.operation.label}: {response.status_code} {response.text[:300]}"
    case.validate_response(response, checks=CHECKS, headers=headers)


@catalog.parametrize()
def test_catalog(case: schemathesis.Case, live_stack: LiveStack) -> None:
    exercise(case, "catalog", live_stack)


@ingest.parametrize()
def test_ingest(case: schemathesis.Case, live_stack: LiveStack) -> None:
    exercise(case, "ingest", live_stack)


@versioning.parametrize()
def test_versioning(case: schemathesis.Case, live_stack: LiveStack) -> None:
    exercise(case, "versioning", live_stack)
