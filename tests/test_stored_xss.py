"""Stored XSS and template injection: every text property of every loadable layer holds hostile text,
loaded by ``gis-service load`` into a database of its own; every HTML page, ``gis-service map export`` and a
notebook map must show it as text and never run or evaluate it.

A hostile value is ``<tag>[<payload>]``: the tag names the feature, so ``p3[49]`` on a page would mean that
``p3[{{ 7*7 }}]`` was evaluated as a Jinja2 template.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import CheckConstraint, insert, select, update
from typer.testing import CliRunner

from gis_service import migrate
from gis_service.catalog import Catalog
from gis_service.cli import app as cli
from gis_service.db import sync_engine
from gis_service.html import INLINE_SCRIPT, digest, esc, script_json
from gis_service.ingest import bundled
from gis_service.ingest.validate import Column, table_spec
from gis_service.models import VERSIONED_TABLES, Base, FeatureSource
from gis_service.settings import Settings, load_settings
from tests.test_maps import DATA_BLOCK, page_data

GETPID = "{{ cycler.__init__.__globals__.os.getpid() }}"
PAYLOADS = (
    "{{ 7*7 }}",
    "{% for x in range(3) %}X{% endfor %}",
    "{# c #}",
    GETPID,
    "</script><script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "' onmouseover='window.__xss=1",
    "<svg/onload=window.__xss=1>",
    "javascript:window.__xss=1",
    "a\u2028b\u2029c",
    "<![CDATA[x]]><!--",
    "<!--<script>window.__xss=1//",
    "${window.__xss=1}`",
    "&lt;b&gt; stays &amp; text",
    "{%raw%}",
)
#: What Jinja2 makes of a payload: seeing it where the payload was means the text was evaluated.
EVALUATED = {"{{ 7*7 }}": "49", "{% for x in range(3) %}X{% endfor %}": "XXX", "{# c #}": ""}
#: For columns of 16 or 32 characters, most telling first.
SHORT = ("{{ 7*7 }}", "{# c #}", "{%raw%}", "'\"><b>x", "x]]><!--")
#: Published layers and the letter their hostile tags start with.
TAGS = {
    "admin_units": "a",
    "industrial_parks": "p",
    "industrial_clusters": "c",
    "transport_projects": "t",
    "planning_zones": "z",
    "parcels": "l",
    "rivers": "r",
}
#: One feature per layer loses its geometry after the load: it is listed in the legend, not drawn.
UNLOCATED = {"industrial_parks": 1, "transport_projects": 2}
#: ``col IS NULL OR col IN ('a', 'b')``: a column the database restricts to a list (models.base.one_of).
ONE_OF = re.compile(r"^(\w+) IS NULL OR \1 IN \((.*)\)$", re.S)
JAVASCRIPT_URL = re.compile(r"""\b(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)


def hostile_value(tag: str, payload: str, column: Column, *, in_url: bool) -> str:
    """``tag[payload]``, or a shorter payload where the column is short; no ``/`` in a feature id."""
    for candidate in (payload, *SHORT):
        value = f"{tag}[{candidate}]"
        if (column.length is None or len(value) <= column.length) and not (in_url and "/" in candidate):
            return value
    raise AssertionError(f"no payload fits {column.name}")


def geometry(layer: str, index: int) -> dict[str, Any]:
    """Inside former Binh Duong; one row of features per layer."""
    x, y = 106.45 + 0.032 * index, 10.95 + 0.07 * list(TAGS).index(layer)
    kind = table_spec(layer).geometry_type
    if kind == "POINT":
        return {"type": "Point", "coordinates": [x, y]}
    if kind == "MULTIPOLYGON":
        d = 0.012
        return {"type": "MultiPolygon", "coordinates": [[[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]]}
    return {"type": "LineString", "coordinates": [[x, y], [x + 0.02, y + 0.015], [x + 0.03, y]]}


def restricted(layer: str) -> dict[str, list[str]]:
    """Text columns whose CHECK lists the values they may hold: the database refuses anything else, so
    these take an allowed value (a file with hostile text there is rejected by the load, as it should be)."""
    out = {}
    for constraint in Base.metadata.tables[layer].constraints:
        match = ONE_OF.match(str(constraint.sqltext)) if isinstance(constraint, CheckConstraint) else None
        if match:
            out[match.group(1)] = re.findall(r"'([^']*)'", match.group(2))
    return out


def hostile_columns(layer: str) -> list[str]:
    spec = table_spec(layer)
    return [name for name, column in spec.columns.items() if column.kind == "text" and name not in restricted(layer)]


def hostile_features(layer: str) -> list[dict[str, Any]]:
    spec = table_spec(layer)
    allowed = restricted(layer)
    features = []
    for index, payload in enumerate(PAYLOADS):
        tag = f"{TAGS[layer]}{index}"
        props: dict[str, Any] = {
            name: hostile_value(tag, payload, spec.columns[name], in_url=name in spec.natural_key)
            for name in hostile_columns(layer)
        }
        props.update({name: values[0] for name, values in allowed.items() if name in spec.columns})
        if "valid_from" in spec.columns:
            props["valid_from"] = "2025-07-01"
        if "planned_area_ha" in spec.columns:
            props["planned_area_ha"] = 50.0 + index
        features.append({"type": "Feature", "properties": props, "geometry": geometry(layer, index)})
    return features


@dataclass
class Hostile:
    """The hostile database and what was loaded into it."""

    settings: Settings
    catalog: Catalog
    #: layer -> the properties of each hostile feature, as written to the file.
    features: dict[str, list[dict[str, Any]]]
    #: layer -> the API ids of the hostile features (codes, or integer ids for units and parcels).
    ids: dict[str, list[str]] = field(default_factory=dict)

    def shown(self, layer: str, props: dict[str, Any]) -> dict[str, str]:
        """The hostile values of the catalogue's published properties of one feature."""
        published = self.catalog.get(layer).property_names
        return {k: v for k, v in props.items() if k in published and isinstance(v, str) and "[" in v}

    def values(self) -> Iterator[str]:
        for features in self.features.values():
            for props in features:
                yield from (v for v in props.values() if isinstance(v, str) and "[" in v)

    def tags(self) -> Iterator[tuple[str, str]]:
        """(tag, payload) of every hostile feature."""
        for layer, features in self.features.items():
            for index in range(len(features)):
                yield f"{TAGS[layer]}{index}", PAYLOADS[index]

    def name(self, layer: str, index: int) -> str:
        return str(self.features[layer][index]["name"])


def natural_key(layer: str) -> str:
    return "admin_code" if layer == "parcels" else "code"


@pytest.fixture(scope="module")
def hostile(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """A database of its own (``<test database>_xss``): migrated, the bundled layers, then the hostile
    features of every loadable layer through ``gis-service load``; dropped afterwards."""
    base, name = settings.dsn.rsplit("/", 1)
    name = f"{name}_xss"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        other = load_settings(database_url=f"{base}/{name}")
        migrate.upgrade(other)
        list(bundled.load_all(other))
        yield load_hostile(other, tmp_path_factory.mktemp("hostile"))
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_hostile(settings: Settings, folder: Path) -> Hostile:
    catalog = Catalog.from_dir(settings.layers_dir)
    assert set(TAGS) == set(VERSIONED_TABLES) == {spec.id for spec in catalog}, "a layer without hostile rows"
    loaded = Hostile(settings, catalog, {})
    runner = CliRunner()
    for layer in TAGS:
        features = hostile_features(layer)
        path = folder / f"{layer}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
        done = runner.invoke(cli, ["load", str(path), "--layer", layer], env={"GIS_DATABASE_URL": settings.dsn})
        assert done.exit_code == 0, done.output
        assert f"{len(features)} inserted" in done.stdout and " 0 rejected" in done.stdout, done.stdout
        loaded.features[layer] = [f["properties"] for f in features]
    engine = sync_engine(settings)
    try:
        with engine.begin() as conn:
            for layer, index in UNLOCATED.items():
                table = Base.metadata.tables[layer]
                code = loaded.features[layer][index]["code"]
                conn.execute(update(table).where(table.c.code == code).values(geom=None))
            cite_hostile_sources(conn, loaded)
            for layer in TAGS:
                table, spec = Base.metadata.tables[layer], catalog.get(layer)
                keys = [props[natural_key(layer)] for props in loaded.features[layer]]
                order = {key: n for n, key in enumerate(keys)}
                rows = conn.execute(
                    select(table.c[spec.id_column], table.c[natural_key(layer)]).where(
                        table.c[natural_key(layer)].in_(keys)
                    )
                )
                loaded.ids[layer] = [str(i) for i, _ in sorted(rows, key=lambda r: order[r[1]])]
    finally:
        engine.dispose()
    return loaded


def cite_hostile_sources(conn: Any, loaded: Hostile) -> None:
    """Cited figures of the hostile parks (the loader does not write ``feature_sources``: the bundled
    layers do), shown in the popups' sources section."""
    rows = [
        {
            "layer": "industrial_parks",
            "feature_code": props["code"],
            "attribute": "planned_area_ha",
            "value_text": props["name"],
            "definition": props["status"],
            "url": "javascript:window.__xss=1",
            "publisher": props["source"],
            "source_date": props["kind"],
            "is_canonical": False,
            "note": props["name"],
        }
        for props in loaded.features["industrial_parks"]
    ]
    conn.execute(insert(FeatureSource), rows)


@pytest.fixture(scope="module")
def hostile_client(hostile: Hostile, vendored: Path) -> Iterator[TestClient]:
    from gis_service.main import create_app

    with TestClient(create_app(hostile.settings)) as test_client:
        yield test_client


# ---- what every page must hold ------------------------------------------------------------------------


def assert_inert(text: str, hostile: Hostile, where: str) -> None:
    """Nothing of the hostile text was evaluated, and none of it can be parsed as markup or a script URL."""
    outside_data = DATA_BLOCK.sub("", text)
    for tag, _ in hostile.tags():  # short columns may hold any template payload: check every outcome
        for outcome in EVALUATED.values():
            assert f"{tag}[{outcome}]" not in text, f"{where}: {tag}[...] was evaluated to {outcome!r}"
        assert not re.search(re.escape(tag) + r"\[\d+\]", text), f"{where}: {tag}[...] became a number (a pid?)"
    for payload in {value[value.index("[") + 1 : -1] for value in hostile.values()}:
        if any(c in payload for c in "<>"):
            assert payload not in text, f"{where}: {payload!r} is in the page as markup"
        if any(c in payload for c in "\"'&"):
            assert payload not in outside_data, f"{where}: {payload!r} is in the page unescaped"
    assert not JAVASCRIPT_URL.search(text), f"{where}: a javascript: URL"
    assert "window.__xss=1" not in " ".join(INLINE_SCRIPT.findall(text)), f"{where}: hostile text in a script"


def assert_html_page(response: Any, hostile: Hostile) -> str:
    where = str(response.url)
    assert response.status_code == 200, (where, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    policy = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert all(digest(script) in policy["script-src"] for script in INLINE_SCRIPT.findall(response.text))
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert_inert(response.text, hostile, where)
    return str(response.text)


def map_features(text: str) -> dict[str, dict[str, Any]]:
    """Every feature of the page's described layers by its name (groups unfolded)."""
    out: dict[str, dict[str, Any]] = {}
    layers = list(page_data(text)["layers"])
    while layers:
        layer = layers.pop()
        layers.extend(layer.get("layers", []))
        for feature in (layer.get("data") or {}).get("features", []):
            if "name" in feature["properties"]:
                out[feature["properties"]["name"]] = feature["properties"]
    return out


def assert_shown_on_map(text: str, hostile: Hostile, layer: str) -> None:
    """Located hostile features are drawn with their names as text and their values escaped in the popup;
    unlocated ones are listed in the legend, escaped."""
    drawn = map_features(text)
    legend = text[text.index('class="gis-panel gis-legend"') :]
    for index, props in enumerate(hostile.features[layer]):
        if UNLOCATED.get(layer) == index:
            assert f"<b>{esc(props['name'])}</b>" in legend, props["name"]
            continue
        feature = drawn[props["name"]]
        assert feature["code"] == props["code"]
        for key, value in hostile.shown(layer, props).items():
            if key != "name_ascii":  # shown only where it differs from the name
                assert esc(value) in feature["popup"], (key, value, feature["popup"])


# ---- pages --------------------------------------------------------------------------------------------


def test_every_text_column_of_every_layer_is_hostile(hostile: Hostile) -> None:
    for layer, features in hostile.features.items():
        text_columns = hostile_columns(layer)
        assert {"name", "source"} & set(text_columns) and len(text_columns) >= 3, layer
        for props in features:
            assert all("[" in props[name] for name in text_columns), (layer, props)
        assert len(hostile.ids[layer]) == len(features) == len(PAYLOADS), layer


def test_planning_map(hostile_client: TestClient, hostile: Hostile) -> None:
    for url in ("/maps/planning-2040", "/maps/planning-2040?year=2020", "/maps/planning-2040?units=legacy-wards"):
        text = assert_html_page(hostile_client.get(url), hostile)
        for layer in ("admin_units", "industrial_parks", "industrial_clusters", "transport_projects", "planning_zones"):
            assert_shown_on_map(text, hostile, layer)


def test_map_of_every_collection(hostile_client: TestClient, hostile: Hostile) -> None:
    for spec in hostile.catalog:
        text = assert_html_page(hostile_client.get(f"/maps/collections/{spec.id}"), hostile)
        if spec.id != "parcels":  # parcels are drawn from vector tiles (tested in the browser)
            assert_shown_on_map(text, hostile, spec.id)
    assert_html_page(hostile_client.get("/maps"), hostile)


def test_items_pages(hostile_client: TestClient, hostile: Hostile) -> None:
    for spec in hostile.catalog:
        text = assert_html_page(hostile_client.get(f"/collections/{spec.id}/items?f=html&limit=10000"), hostile)
        for props in hostile.features[spec.id]:
            for value in hostile.shown(spec.id, props).values():
                assert f"<td>{esc(value)}</td>" in text, (spec.id, value)


def test_item_pages(hostile_client: TestClient, hostile: Hostile) -> None:
    for spec in hostile.catalog:
        for feature_id, props in zip(hostile.ids[spec.id], hostile.features[spec.id], strict=True):
            response = hostile_client.get(f"/collections/{spec.id}/items/{quote(feature_id, safe='')}?f=html")
            text = assert_html_page(response, hostile)
            assert f"<h1>{esc(spec.title)}: {esc(feature_id)}</h1>" in text
            for value in hostile.shown(spec.id, props).values():
                assert f"<td>{esc(value)}</td>" in text, (spec.id, value)


def test_landing_collections_and_conformance_pages(hostile_client: TestClient, hostile: Hostile) -> None:
    for url in ("/?f=html", "/collections?f=html", "/conformance?f=html"):
        assert_html_page(hostile_client.get(url), hostile)
    for spec in hostile.catalog:
        assert esc(spec.title) in assert_html_page(hostile_client.get(f"/collections/{spec.id}?f=html"), hostile)


def test_script_json_is_inert_in_a_script_element() -> None:
    text = script_json({"k": "</script><!--<script>]]>&\u2028\u2029'\""})
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == {"k": "</script><!--<script>]]>&\u2028\u2029'\""}


# ---- exports ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("inline", [False, True], ids=["assets", "inline"])
def test_map_export(hostile: Hostile, vendored: Path, tmp_path: Path, inline: bool) -> None:
    command = ["map", "export", "--out", str(tmp_path), *(["--inline"] if inline else [])]
    done = CliRunner().invoke(cli, command, env={"GIS_DATABASE_URL": hostile.settings.dsn})
    assert done.exit_code == 0, done.output
    pages = sorted(tmp_path.rglob("*.html"))
    assert len(pages) == 2 + len(list(hostile.catalog))
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert_inert(text, hostile, path.name)
        if path.parent.name == "collections" and path.stem not in ("parcels",):
            assert_shown_on_map(text, hostile, path.stem)
    planning = (tmp_path / "planning-2040.html").read_text(encoding="utf-8")
    for layer in ("admin_units", "industrial_parks", "transport_projects", "planning_zones"):
        assert_shown_on_map(planning, hostile, layer)


def test_notebook_map(hostile: Hostile, vendored: Path) -> None:
    """What a notebook shows (``_repr_html_``, the map as an ``iframe srcdoc``) and what ``save`` writes."""
    from gis_service import maps
    from gis_service.analysis.api import Planner

    result_name = hostile.name("industrial_parks", 0)
    answer = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": n, "geometry": geometry("planning_zones", n), "properties": {"note": value}}
            for n, value in enumerate(props["name"] for props in hostile.features["industrial_parks"])
        ],
    }
    with Planner(hostile.settings) as planner:
        m = maps.notebook_map(planner, year=2030, title=hostile.name("rivers", 0), results={result_name: answer})
    shown = m._repr_html_()
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', shown).group(1))  # type: ignore[union-attr]
    for text, where in ((maps.render(m), "render"), (srcdoc, "srcdoc")):
        assert_inert(text, hostile, where)
        assert f"<title>{esc(hostile.name('rivers', 0))}</title>" in text
        result = next(layer for layer in page_data(text)["layers"] if layer["role"] == "search:result0")
        assert result["nameHtml"] == esc(f"{result_name} ({len(PAYLOADS)})")
        popups = " ".join(f["properties"]["popup"] for f in result["data"]["features"])
        assert all(esc(props["name"]) in popups for props in hostile.features["industrial_parks"])
        assert_shown_on_map(text, hostile, "industrial_parks")
