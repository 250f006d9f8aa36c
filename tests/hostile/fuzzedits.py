"""What the fuzzing of the editing operations needs: features each editable collection takes, features made
for the run (the only ones it may change), the hook that aims schema-valid cases at them, and the checks that
the run changed nothing else and left nothing behind.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from requests.structures import CaseInsensitiveDict
from schemathesis import HookContext
from schemathesis.core.parameters import ParameterLocation
from sqlalchemy import Engine, text

from gis_service.models.history import EDITABLE_TABLES
from tests.accessdata import box_geojson

SOURCE = "test: hostile fuzz"
#: Built where the bundled data has no feature to copy (no parcels, no planning zones are bundled); the
#: others are copies of a bundled feature (with a site point where it has none).
BUILT = {
    "parcels": {
        "admin_code": "FUZZ",
        "sheet_no": "1",
        "parcel_no": "1",
        "land_use_code": "ODT",
        "geometry_quality": "approximate",
    },
    "planning_zones": {
        "name": "Fuzz zone",
        "plan": "fuzz plan",
        "zone_type": "industrial",
        "geometry_quality": "approximate",
    },
}
BOX = (106.62, 10.97, 106.63, 10.98)
SITE = {"type": "Point", "coordinates": [106.625, 10.975]}
#: Properties that must differ between features of a collection (the natural key of parcels).
UNIQUE = {"parcels": "parcel_no"}
FEATURES_EACH = 3
BODIES = ("createFeature", "replaceFeature", "updateFeature")


def template(client: httpx.Client, collection: str) -> dict[str, Any]:
    """A feature ``collection`` takes: a bundled one with a geometry, copied, or one built here."""
    if collection in BUILT:
        properties: dict[str, Any] = dict(BUILT[collection])
        geometry = box_geojson(*BOX)
    else:
        features = client.get(f"/collections/{collection}/items", params={"limit": 50}).json()["features"]
        found = min(features, key=lambda f: f["geometry"] is None)  # bundled clusters have no site point
        properties, geometry = dict(found["properties"]), found["geometry"] or SITE
    return {"type": "Feature", "geometry": geometry, "properties": {**properties, "source": SOURCE}}


def unique(feature: dict[str, Any], collection: str, number: int) -> dict[str, Any]:
    out = copy.deepcopy(feature)
    if collection in UNIQUE:
        out["properties"][UNIQUE[collection]] = f"fz{number}"
    return out


@dataclass
class EditingTargets:
    """By editable collection: a feature it takes, and the features made for the run (id -> body)."""

    templates: dict[str, dict[str, Any]]
    made: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def make(cls, base: str, key: str) -> EditingTargets:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/geo+json"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            targets = cls({c: template(client, c) for c in EDITABLE_TABLES})
            for collection, feature in targets.templates.items():
                targets.made[collection] = {}
                for number in range(FEATURES_EACH):
                    body = unique(feature, collection, number)
                    created = client.post(f"/collections/{collection}/items", json=body)
                    assert created.status_code == 201, (collection, created.text)
                    location = created.headers["Location"]
                    targets.made[collection][location[location.rindex("/items/") + 7 :]] = body
        return targets

    def aim(self, context: HookContext, case: schemathesis.Case) -> schemathesis.Case:
        """``map_case``: a feature id names a feature made for the run (unless the path is the negative
        part); half the cases (by a hash of their headers and query) carry a feature the collection takes."""
        collection = (case.path_parameters or {}).get("collectionId")
        made = self.made.get(collection or "")
        if not made:
            return case
        choice = zlib.crc32(repr((sorted((case.headers or {}).items()), sorted((case.query or {}).items()))).encode())
        ids = sorted(made)
        feature_id = ids[choice % len(ids)]
        if "featureId" in case.path_parameters and not (case.meta and case.meta.is_negative_at(ParameterLocation.PATH)):
            case.path_parameters = {**case.path_parameters, "featureId": feature_id}
        operation_id = case.operation.definition.raw.get("operationId")
        if operation_id in BODIES and choice % 2 == 0:
            case.body = self._body(operation_id, collection or "", feature_id, choice)
            case.headers = CaseInsensitiveDict(
                {k: v for k, v in (case.headers or {}).items() if k.lower() != "content-crs"}
            )
        return case

    def _body(self, operation_id: str, collection: str, feature_id: str, choice: int) -> dict[str, Any]:
        own = self.made[collection][feature_id]
        if operation_id == "createFeature":
            return unique(self.templates[collection], collection, 1000 + choice % 100_000)
        if operation_id == "replaceFeature":
            return copy.deepcopy(own)
        return {"geometry": copy.deepcopy(own["geometry"])}


#: Rows of the history written by ``name``, about features ``name`` did not make.
FOREIGN = """
SELECT h.feature_key FROM {table}_history h JOIN change_sets c ON c.id = h.change_set_id
WHERE c.changed_by = :name AND h.feature_id NOT IN (
    SELECT m.feature_id FROM {table}_history m JOIN change_sets mc ON mc.id = m.change_set_id
    WHERE m.op = 'I' AND mc.changed_by = :name)
"""
MADE = """
DELETE FROM {table} WHERE id IN (
    SELECT m.feature_id FROM {table}_history m JOIN change_sets mc ON mc.id = m.change_set_id
    WHERE m.op = 'I' AND mc.changed_by = :name)
"""


def changed_features_not_made_by(engine: Engine, name: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (table, key)
            for table in EDITABLE_TABLES
            for (key,) in conn.execute(text(FOREIGN.format(table=table)), {"name": name})
        ]


def remove_features_made_by(engine: Engine, name: str) -> None:
    """Other modules count the bundled features and list proposals: what the run made goes (the history of
    the features stays)."""
    with engine.begin() as conn:
        for table in EDITABLE_TABLES:
            conn.execute(text(MADE.format(table=table)), {"name": name})
        conn.execute(text("DELETE FROM proposals WHERE author = :name"), {"name": name})
