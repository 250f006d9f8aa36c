"""Industrial parks and clusters from the long sources table: one canonical row each, all figures kept.

The canonical planned area is the latest dated figure of a total/planned area (undated figures rank
last; leased areas, ambiguous aggregates and whole-complex areas are kept as sources only).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

STATUS_WORDS = (
    ("removed", "removed"),
    ("under construction", "under construction"),
    ("groundbreaking", "under construction"),
    ("operating", "operating"),
    ("established", "operating"),
    ("proposed", "proposed"),
    ("planned", "planned"),
)
YEAR = re.compile(r"\b(19[89]\d|20[0-5]\d)\b")


def source_year(text: str) -> int | None:
    """Year a statement was made (``2021-10-27``, ``c.2016 (...)``, ``2016/2022``); None if undated."""
    years = [int(y) for y in YEAR.findall(text or "")]
    return max(years) if years else None


def normalise_status(text: str) -> str | None:
    lowered = (text or "").lower()
    return next((status for word, status in STATUS_WORDS if word in lowered), None)


def _float(text: str) -> float | None:
    try:
        return float(text) if text not in ("", None) else None
    except ValueError:
        return None


@dataclass
class Estate:
    code: str
    rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def first(self) -> dict[str, str]:
        return self.rows[0]

    def _area_rows(self) -> list[dict[str, str]]:
        rows = []
        for row in self.rows:
            definition = row["area_definition"].lower()
            if _float(row["area_ha"]) is None or row["kind"] == "complex":
                continue
            if "leased" in definition or "ambiguous" in row["note"].lower():
                continue
            rows.append(row)
        return rows

    def canonical_area_row(self) -> dict[str, str] | None:
        rows = self._area_rows()
        if not rows:
            return None
        return max(rows, key=lambda r: source_year(r["source_date"]) or 0)

    def leased_area(self) -> float | None:
        leased = [r for r in self.rows if "leased" in r["area_definition"].lower() and _float(r["area_ha"])]
        return _float(leased[0]["area_ha"]) if leased else None

    def status(self) -> tuple[str, str]:
        """(normalised status, the statement it came from): the latest dated statement that says one."""
        ranked = sorted(self.rows, key=lambda r: source_year(r["source_date"]) or 0, reverse=True)
        for row in ranked:
            status = normalise_status(row["status"])
            if status:
                return status, row["status"]
        return "planned", ""

    def occupancy(self) -> float | None:
        for row in self.rows:
            match = re.search(r"(\d{1,3})% occupied", row["status"])
            if match:
                return float(match.group(1))
        return None

    def established_year(self) -> int | None:
        for row in self.rows:
            match = re.search(r"(?:established|groundbreaking|work started)\D{0,3}(\d{4})", row["status"])
            if match:
                return int(match.group(1))
        return None

    def horizon_year(self) -> int | None:
        for row in self.rows:
            match = re.search(r"plan to (20\d\d)", row["area_definition"])
            if match:
                return int(match.group(1))
        return None


def group_estates(rows: list[dict[str, str]], kinds: tuple[str, ...]) -> dict[str, Estate]:
    estates: dict[str, Estate] = defaultdict(lambda: Estate(""))
    for row in rows:
        if row["kind"] in ("aggregate",) or row["park_id"] == "CPLX":
            continue
        estate = estates[row["park_id"]]
        estate.code = row["park_id"]
        estate.rows.append(row)
    return {code: e for code, e in estates.items() if e.first["kind"] in kinds}


def estate_record(estate: Estate, district_codes: dict[str, str]) -> dict[str, Any]:
    area_row = estate.canonical_area_row()
    status, status_note = estate.status()
    district_name = estate.first["district_pre2025"] or None
    first_district = (district_name or "").split(";")[0].strip()
    cited = area_row or estate.first
    return {
        "code": estate.code,
        "name": estate.first["name"],
        "name_ascii": estate.first["name_ascii"],
        "kind": estate.first["kind"],
        "status": status,
        "status_note": status_note or None,
        "established_year": estate.established_year(),
        "planned_area_ha": _float(area_row["area_ha"]) if area_row else None,
        "area_definition": area_row["area_definition"] if area_row else None,
        "leased_area_ha": estate.leased_area(),
        "occupancy_pct": estate.occupancy(),
        "horizon_year": estate.horizon_year(),
        "district_code": district_codes.get(first_district),
        "district_name": district_name,
        "location_text": estate.first["location_text"] or None,
        "source": f"{cited['source_publisher']}: {cited['source_url']}",
        "license": "facts quoted with citation",
    }


def source_records(rows: list[dict[str, str]], canonical: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Every cited statement as a ``feature_sources`` row; ``canonical`` maps code -> chosen source_key."""
    records = []
    for row in rows:
        kind = row["kind"]
        layer = {"KCN": "industrial_parks", "CCN": "industrial_clusters"}.get(kind, f"{kind}s")
        if row["park_id"] in ("CPLX",):
            layer = "complexes"
        area = _float(row["area_ha"])
        records.append(
            {
                "layer": layer,
                "feature_code": row["park_id"],
                "attribute": "area_ha" if area is not None else "status",
                "value_num": area,
                "value_text": row["status"],
                "definition": row["area_definition"] or None,
                "url": row["source_url"] or None,
                "publisher": row["source_publisher"] or None,
                "source_date": row["source_date"] or None,
                "source_key": row["source_key"] or None,
                "is_canonical": canonical.get(row["park_id"]) == (row["source_key"], row["area_ha"]),
                "note": row["note"] or None,
            }
        )
    return records
