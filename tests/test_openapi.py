"""The OpenAPI document at ``/api``: valid OpenAPI 3.0, and true about errors, media types and examples."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import OpenAPIV30SpecValidator
from pydantic import BaseModel, Field

from gis_service.analysis import stats
from gis_service.schemas import answers
from gis_service.schemas.analysis import SiteSelectionBody, Target
from gis_service.schemas.openapi30 import schema30

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
#: Keywords of JSON Schema 2020-12 that OpenAPI 3.0 does not have.
VALUES = ("example", "default", "enum")
NOT_30 = {"prefixItems", "const", "$defs", "propertyNames", "examples", "unevaluatedProperties", "dependentRequired"}


@pytest.fixture(scope="module")
def doc(client: TestClient) -> dict[str, Any]:
    response = client.get("/api")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, kind, name = node["$ref"].removeprefix("#/").split("/")
        node = doc[section][kind][name]
    return node


def schemas_in(node: Any, inside: bool = False) -> Iterator[dict[str, Any]]:
    """Every Schema Object and sub-schema under ``node`` (keyword values such as examples left out)."""
    if isinstance(node, list):
        for item in node:
            yield from schemas_in(item, inside)
    elif isinstance(node, dict):
        if inside:
            yield node
        for key, value in node.items():
            if not (inside and key in VALUES):
                yield from schemas_in(value, inside or key == "schema")


def test_the_document_validates_as_openapi_30(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.0.")
    errors = [str(e).splitlines()[0] for e in OpenAPIV30SpecValidator(doc).iter_errors()]
    assert not errors, errors[:5]


def test_no_schema_uses_a_json_schema_2020_construct(doc: dict[str, Any]) -> None:
    found = []
    for schema in [*schemas_in(doc), *schemas_in(list(doc["components"]["schemas"].values()), inside=True)]:
        found += sorted(NOT_30 & set(schema))
        if schema.get("type") == "null" or isinstance(schema.get("type"), list):
            found.append(f"type {schema['type']}")
        for bound in ("exclusiveMinimum", "exclusiveMaximum"):
            if bound in schema and not isinstance(schema[bound], bool):
                found.append(f"numeric {bound}")
    assert not found


def test_pydantic_constructs_become_their_30_equivalents() -> None:
    class Body(BaseModel):
        box: tuple[float, float, float, float] | None = None
        kind: Literal["zone"] = "zone"
        area: float = Field(gt=0, examples=[50])
        radii: dict[Literal["port", "rail"], float] = {}

    schema = schema30(Body.model_json_schema())
    props = schema["properties"]
    assert props["box"] == {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4} | {
        "title": "Box",
        "default": None,
        "nullable": True,
    }
    assert props["kind"]["enum"] == ["zone"] and "const" not in props["kind"]
    assert props["area"]["minimum"] == 0 and props["area"]["exclusiveMinimum"] is True
    assert props["area"]["example"] == 50 and "examples" not in props["area"]
    assert set(props["radii"]["properties"]) == {"port", "rail"} and props["radii"]["additionalProperties"] is False
    # constraints pydantic could not fold into the type's schema keep their Python names
    assert schema30({"type": "number", "ge": 1, "lt": 5}) == {
        "type": "number",
        "minimum": 1,
        "maximum": 5,
        "exclusiveMaximum": True,
    }


def test_site_selection_body_is_a_valid_30_schema(doc: dict[str, Any]) -> None:
    body = doc["components"]["schemas"]["SiteSelectionBody"]
    assert body["properties"]["bbox"]["items"] == {"type": "number"}
    assert body["properties"]["bbox"]["nullable"] is True
    assert set(body["properties"]["max_distance_m"]["properties"]) == set(stats.TARGETS)
    assert SiteSelectionBody.model_validate(body["example"])


def test_site_selection_targets_are_the_analysis_targets() -> None:
    assert set(get_args(Target)) == set(stats.TARGETS)


def test_every_operation_is_described_by_the_answers_table(doc: dict[str, Any]) -> None:
    documented = {operation["operationId"] for _, _, operation in operations(doc)}
    assert documented == set(answers.OPERATIONS)


def test_every_error_is_problem_json_from_one_shared_schema(doc: dict[str, Any]) -> None:
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    for path, method, operation in operations(doc):
        statuses = {int(s) for s in operation["responses"]}
        assert {400, 405, 500} <= statuses, (method, path)
        if "requestBody" in operation:
            assert {413, 415} <= statuses, (method, path)
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                content = resolve(doc, response)["content"]
                assert content["application/problem+json"]["schema"] == PROBLEM_REF, (method, path, status)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def allow(response: Any) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


def test_405_is_documented_with_allow_and_answered_with_it(client: TestClient, doc: dict[str, Any]) -> None:
    assert doc["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"]["required"] is True
    response = client.delete("/collections/industrial_parks/items")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert {"GET", "HEAD"} <= allow(response) and "DELETE" not in allow(response)
    # two routes share the path: Allow names the methods of both, not of the first that matched
    assert allow(client.put("/analysis/nearby")) == {"GET", "HEAD", "POST"}
    assert allow(client.options("/rasters/population_density/statistics")) == {"GET", "HEAD", "POST"}


def test_a_body_that_is_not_json_is_415(client: TestClient) -> None:
    response = client.post("/analysis/nearby", content=b"collection=parks", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["parameter"] == "body"
    accepted = client.post(
        "/analysis/site-selection", content=b"{}", headers={"content-type": "application/json; charset=utf-8"}
    )
    assert accepted.status_code == 200


@pytest.mark.parametrize("f", ["json", "html", "csv", "geojsonseq", "gpkg"])
def test_every_items_format_is_a_documented_media_type(client: TestClient, doc: dict[str, Any], f: str) -> None:
    documented = doc["paths"]["/collections/{collectionId}/items"]["get"]["responses"]["200"]["content"]
    response = client.get("/collections/industrial_parks/items", params={"f": f, "limit": 2})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in documented


def example_request(doc: dict[str, Any], path: str, operation: dict[str, Any]) -> dict[str, Any] | None:
    """The request the operation's examples make, or None when a required parameter has no example."""
    params: dict[str, Any] = {}
    for parameter in (resolve(doc, p) for p in operation.get("parameters", [])):
        value = parameter.get("example", (parameter["schema"].get("enum") or [None])[0])
        if value is None:
            if parameter.get("required"):
                return None
            continue
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", str(value))
        else:
            params[parameter["name"]] = value
    body = None
    if "requestBody" in operation:
        body = resolve(doc, operation["requestBody"]["content"]["application/json"]["schema"]).get("example")
        if body is None:
            return None
    return {"url": path, "params": params, "json": body}


def test_every_documented_example_is_accepted(client: TestClient, doc: dict[str, Any]) -> None:
    tried: list[str] = []
    refused: list[tuple[object, ...]] = []
    for path, method, operation in operations(doc):
        has_examples = any("example" in resolve(doc, p) for p in operation.get("parameters", []))
        if "requestBody" in operation:
            media = operation["requestBody"]["content"].get("application/json", {"schema": {}})  # merge patches
            has_examples = has_examples or "example" in resolve(doc, media["schema"])
        if not has_examples:
            continue
        request = example_request(doc, path, operation)
        if request is None:
            refused.append((operation["operationId"], "a required parameter has no example"))
            continue
        tried.append(operation["operationId"])
        response = client.request(method.upper(), **request)
        if response.status_code != 200:
            refused.append((operation["operationId"], response.status_code, response.text[:200]))
    assert {"nearby", "nearbyGeometry", "siteSelection", "locate", "corridor"} <= set(tried)
    assert not refused


def test_every_error_answer_is_one_shared_problem_json_response(doc: dict[str, Any]) -> None:
    """Errors are ``$ref`` to ``components/responses``, each problem+json only: the maps' too (their errors
    are no HTML pages), 401 with its challenge, 503 with ``Retry-After``."""
    for path, method, operation in operations(doc):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert set(response) == {"$ref"}, (method, path, status)
                assert set(resolve(doc, response)["content"]) == {"application/problem+json"}, (path, status)
    responses = doc["components"]["responses"]
    assert responses["Unauthorized"]["headers"]["WWW-Authenticate"]["required"] is True
    assert "Retry-After" in responses["ServiceUnavailable"]["headers"]
    assert "admission queue" in responses["ServiceUnavailable"]["description"]
    assert "pool" in responses["ServiceUnavailable"]["description"]


#: Operations that never ask who is calling: the service's description, tile matrix sets, the style, glyphs.
OPEN = {"getLandingPage", "getConformance", "getHealth", "getTileMatrixSets", "getTileMatrixSet", "getPlanningStyle"}
OPEN |= {"getGlyphs", "getMaps", "getEditor"}
#: Operations that change features: they take no anonymous call.
WRITES = {"createFeature", "replaceFeature", "updateFeature", "deleteFeature", "revertFeature"}


def test_operations_that_read_collections_document_401_and_403(doc: dict[str, Any]) -> None:
    for path, method, operation in operations(doc):
        statuses = set(operation["responses"])
        if operation["operationId"] in OPEN:
            assert not {"401", "403"} & statuses and "security" not in operation, path
            continue
        assert {"401", "403", "503"} <= statuses, (method, path)
        anonymous = operation["operationId"] not in WRITES  # a change is always someone's
        assert (operation["security"][0] == {}) is anonymous and {"bearer": []} in operation["security"], path
    for name in ("locate", "nearby", "corridor", "siteSelection", "getRasterUnitStatistics", "getPlanningMap"):
        assert any(op["operationId"] == name and "401" in op["responses"] for _, _, op in operations(doc)), name


def test_heavy_operations_document_the_503_of_the_admission_queue(doc: dict[str, Any]) -> None:
    from gis_service import admission

    heavy = admission.HEAVY_OPERATIONS | admission.NEARBY_OPERATIONS | admission.MAP_OPERATIONS
    documented = {op["operationId"] for _, _, op in operations(doc) if "503" in op["responses"]}
    assert heavy <= documented


def test_a_401_is_answered_exactly_where_it_is_documented(client: TestClient, doc: dict[str, Any]) -> None:
    """Credentials that do not hold: a 401 with the challenge from every operation documenting 401, and no
    401 from the others (they never look at credentials)."""
    bad = {"Authorization": "Bearer gsk_nonsense"}
    tried = []
    for path, method, operation in operations(doc):
        request = example_request(doc, path, operation) if method == "get" else None
        if request is None or "{" in request["url"]:
            continue
        tried.append(operation["operationId"])
        response = client.get(request["url"], params=request["params"], headers=bad)
        if "401" in operation["responses"]:
            assert response.status_code == 401, (path, response.status_code, response.text[:200])
            assert response.headers.get_list("www-authenticate"), path
        else:
            assert response.status_code != 401, path
    assert {"getCollections", "locate", "timeline", "getRasters", "getConformance", "getPlanningMap"} <= set(tried)


def test_format_parameters_are_declared_with_their_values(doc: dict[str, Any]) -> None:
    from gis_service.dependencies import FORMATS

    def f_of(path: str) -> dict[str, Any]:
        parameters = [resolve(doc, p) for p in doc["paths"][path]["get"].get("parameters", [])]
        return next(p for p in parameters if p["name"] == "f" and p["in"] == "query")["schema"]

    assert f_of("/collections")["enum"] == ["json", "html"]
    assert f_of("/collections/{collectionId}")["enum"] == ["json", "html"]
    assert f_of("/collections/{collectionId}/items")["enum"] == list(FORMATS)
    for path in ("/tileMatrixSets", "/tileMatrixSets/{tileMatrixSetId}", "/collections/{collectionId}/tiles"):
        assert f_of(path)["enum"] == ["json"], path


@pytest.mark.parametrize(
    ("path", "accepted"),
    [
        ("/collections", {"json", "html"}),
        ("/collections/industrial_parks", {"json", "html"}),
        ("/collections/industrial_parks/tiles", {"json"}),
        ("/tileMatrixSets", {"json"}),
    ],
)
def test_the_declared_formats_are_the_accepted_ones(client: TestClient, path: str, accepted: set[str]) -> None:
    for f in ("json", "html", "xml", "csv"):
        response = client.get(path, params={"f": f})
        if f in accepted:
            assert response.status_code == 200, (path, f)
        else:
            assert response.status_code == 400 and response.json()["parameter"] == "f", (path, f)


def test_the_api_page_loads_swagger_ui_from_our_origin(client: TestClient, vendored: Path) -> None:
    """No CDN, no inline script: the vendored bundle (pinned, licence recorded) and our init script."""
    from gis_service.maps.vendor import MANIFEST, SWAGGER_UI

    page = client.get("/api.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "http" not in page.text and "<script>" not in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert f"/static/vendor/{SWAGGER_UI.spec}/swagger-ui-bundle.js" in sources and "/static/api-docs.js" in sources
    for source in sources:
        assert client.get(source).status_code == 200, source
    record = json.loads((vendored / SWAGGER_UI.spec / MANIFEST).read_text(encoding="utf-8"))
    assert record == {**record, "integrity": SWAGGER_UI.integrity, "license": "Apache-2.0"}
    assert (vendored / SWAGGER_UI.spec / "LICENSE").is_file()
    assert client.get("/api.html?x=1").status_code == 400
