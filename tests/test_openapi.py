"""The OpenAPI 3.1 document: valid per a real validator, complete for the app's routes, true to real responses."""

from __future__ import annotations

import copy
import json
import re

import pytest
from conftest import SEED_UID
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

KEY = "openapi-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SPEC_URI = "urn:archive:openapi"


@pytest.fixture(scope="module")
def spec():
    from archive.web.openapi import openapi_document

    return openapi_document()


def conforms(spec: dict, schema_name: str, instance) -> None:
    """Validate a response body against components/schemas/<schema_name> (JSON Schema 2020-12, refs resolved)."""
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    validator = Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}, registry=registry)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"] == "3.1.0"
    validate(spec, cls=OpenAPIV31SpecValidator)


def test_validator_really_rejects_a_broken_document(spec):
    broken = copy.deepcopy(spec)
    broken["paths"]["/api/search"]["get"]["responses"] = {"200": {"content": {}}}  # a response needs a description
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)


def test_served_document_is_the_same(client, spec):
    assert client.get("/api/openapi.json").get_json() == spec


def test_every_api_route_is_documented_and_nothing_else(app, spec):
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule == "/search":
            path = re.sub(r"<(?:\w+:)?key>", "{id}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    documented = {
        path: {m for m in item if m in {"get", "post", "put", "delete", "patch"}}
        for path, item in spec["paths"].items()
    }
    assert documented == routes


def test_documented_query_parameters_are_the_ones_each_endpoint_accepts(app, spec):
    """The document lists, per operation, exactly the parameters the server accepts (params.ACCEPTED)."""
    from archive.config import Settings
    from archive.web.params import ACCEPTED as ACCEPTED_BY_ENDPOINT
    from archive.web.params import accepted

    checked = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/search"):
            continue
        path = re.sub(r"<(?:\w+:)?key>", "{id}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = spec["paths"][path][method.lower()]
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            assert names == list(accepted(rule.endpoint, Settings().labels)), (path, method)
            checked.add(rule.endpoint)
    assert checked == set(ACCEPTED_BY_ENDPOINT)  # and nothing is declared for an endpoint that does not exist


def test_examples_conform_to_their_schemas(spec):
    search = spec["paths"]["/api/search"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    article = spec["paths"]["/api/articles/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    assert search and article
    for example in search.values():
        conforms(spec, "SearchResponse", example["value"])
    for example in article.values():
        conforms(spec, "ArticleResponse", example["value"])
    q = next(p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "q")
    assert q["examples"] and spec["paths"]["/api/articles/{id}"]["get"]["parameters"][0]["examples"]
    body = article["seed"]["value"]["article"]["body"]
    result = search["seed"]["value"]["results"][0]
    assert result["passage"] == " ".join(body[result["passage_start"] : result["passage_end"]].split())


def test_operations_have_ids_and_error_responses(spec):
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    writes = [spec["paths"]["/api/articles"]["post"], spec["paths"]["/api/articles/{id}"]["delete"]]
    for op in writes:
        assert {"401", "403"} <= set(op["responses"]) and op["security"] == [{"bearer": []}]
    assert "413" in spec["paths"]["/api/articles"]["post"]["responses"]
    assert "429" in spec["paths"]["/api/search"]["get"]["responses"]
    assert "400" in spec["paths"]["/api/search"]["get"]["responses"]
    assert "404" in spec["paths"]["/api/articles/{id}"]["get"]["responses"]


@pytest.mark.integration
def test_read_responses_conform(client, spec):
    conforms(spec, "SearchResponse", client.get("/api/search?q=Iran+camera+disconnection").get_json())
    conforms(spec, "SearchResponse", client.get("/search?q=oil&format=json&mode=keyword").get_json())
    conforms(spec, "ArticleResponse", client.get(f"/api/articles/{SEED_UID}").get_json())
    conforms(spec, "RelatedResponse", client.get(f"/api/articles/{SEED_UID}/related").get_json())
    conforms(spec, "Health", client.get("/api/health").get_json())
    conforms(spec, "Error", client.get("/api/search?limit=-1").get_json())
    conforms(spec, "Error", client.get("/api/articles/nope").get_json())
    conforms(spec, "Error", client.get("/api/search?q=x&page=2").get_json())
    for line in client.get("/api/search/export?q=oil&format=jsonl").get_data(as_text=True).splitlines():
        conforms(spec, "ExportRow", json.loads(line))


@pytest.mark.integration
def test_write_responses_conform(archive, spec):
    from archive.web import create_app

    client = create_app(
        settings=archive.settings.with_(api_key=KEY, max_body_bytes=4_000), archive=archive
    ).test_client()
    added = client.post(
        "/api/articles", json=[{"id": "o-1", "title": "T", "text": "Some words about rivers."}], headers=AUTH
    )
    assert added.status_code == 201
    conforms(spec, "IngestSummary", added.get_json())
    conforms(spec, "IngestSummary", client.post("/api/articles", json={"text": " "}, headers=AUTH).get_json())
    conforms(spec, "Error", client.post("/api/articles", json={"text": "x"}).get_json())
    conforms(spec, "Error", client.post("/api/articles", data="x" * 5_000, headers=AUTH).get_json())
    conforms(spec, "DeleteResponse", client.delete("/api/articles/o-1", headers=AUTH).get_json())
    no_key = create_app(archive=archive).test_client()
    conforms(spec, "Error", no_key.delete("/api/articles/o-1", headers=AUTH).get_json())


def test_request_examples_conform_to_the_input_schema(spec):
    one = {"id": "x", "title": "t", "text": "body"}
    for body in (one, [one], {"articles": [one]}):
        conforms(spec, "IngestRequest", body)


# ------------------------------------------------------------------------------ issue 15 item 9: the document and the code agree


def parameter(spec: dict, path: str, name: str) -> dict:
    return next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name)


def accepts(schema: dict, value: str) -> bool:
    from jsonschema import FormatChecker

    return Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(value)


@pytest.mark.parametrize("path", ["/api/search", "/search"])
def test_empty_values_are_documented_as_the_code_treats_them(spec, path):
    for name in ("mode", "sort"):  # enums: empty is not a member, and the code answers 400
        p = parameter(spec, path, name)
        assert not accepts(p["schema"], "") and "empty" in p["description"] and "400" in p["description"]
    for name in ("limit", "offset"):
        assert "empty" in parameter(spec, path, name)["description"]
    for name in ("after", "before"):  # dates: empty is no bound (the search form sends it), the schema allows it
        p = parameter(spec, path, name)
        assert accepts(p["schema"], "") and accepts(p["schema"], "2022-06-09")
        assert not accepts(p["schema"], "2022-02-30") and not accepts(p["schema"], "yesterday")
        assert "empty" in p["description"]


@pytest.mark.parametrize("path", ["/api/search", "/search"])
def test_the_date_order_400_is_documented(spec, path):
    for name in ("after", "before"):
        description = parameter(spec, path, name)["description"]
        assert "400" in description and "earlier than" in description


def test_the_search_page_documents_its_html_answers(spec):
    responses = spec["paths"]["/search"]["get"]["responses"]
    for status in ("200", "400"):
        assert {"text/html", "application/json"} <= set(responses[status]["content"]), status
    assert set(spec["paths"]["/api/search"]["get"]["responses"]["200"]["content"]) == {"application/json"}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "url", "headers"),
    [
        ("/search", "/search?q=oil", {}),
        ("/search", "/search?q=oil&mode=", {}),
        ("/search", "/search?q=oil&mode=", {"Accept": "application/json"}),
        ("/search", "/search?q=oil&after=", {}),
        ("/api/search", "/api/search?q=oil&before=", {}),
        ("/api/search", "/api/search?q=oil&mode=", {}),
        ("/api/search", "/api/search?q=oil&after=2022-01-01&before=2022-01-01", {}),
        ("/api/articles/{id}/related", f"/api/articles/{SEED_UID}/related?limit=", {}),
    ],
)
def test_answers_have_a_documented_status_and_type(client, spec, path, url, headers):
    r = client.get(url, headers=headers)
    documented = spec["paths"][path]["get"]["responses"]
    assert str(r.status_code) in documented, (url, r.status_code)
    response = documented[str(r.status_code)]
    response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
    assert r.mimetype in response["content"], (url, r.mimetype)
