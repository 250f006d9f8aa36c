"""How good the geometry behind an answer is, said in the answer.

Schematic lines (straight segments through OSM waypoints) and approximate points (an OSM object at or in a
park, a coarse small-scale line) answer questions at kilometre scale only. Every answer that rests on one
carries a warning with its quality and ``accuracy_m``, and a distance or corridor narrower than that
accuracy is flagged unreliable instead of being passed off as precise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gis_service.queries.analysis import QUALITY_FIELDS

#: Qualities that deserve a warning: the geometry stands for the feature only roughly.
ROUGH = ("approximate", "schematic")
#: How a rough geometry is named in a warning, about one feature (WHAT) or a group of them (WITH).
WHAT = {
    "schematic": "a schematic line (straight segments through OSM waypoints)",
    "approximate": "an approximate geometry",
}
WITH = {
    "schematic": "with schematic geometry (straight segments through OSM waypoints)",
    "approximate": "with approximate geometry",
}


def quality_of(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The quality fields a feature has (absent ones left out)."""
    return {k: properties[k] for k in QUALITY_FIELDS if k in properties}


def accuracy_text(accuracy_m: Any) -> str:
    return f"accuracy ±{float(accuracy_m):,.0f} m" if accuracy_m is not None else "accuracy not stated"


def reliable(measure_m: float, accuracy_m: Any, quality: str | None) -> bool | None:
    """False when ``measure_m`` (a radius, a corridor width) is below the geometry's accuracy; None when the
    geometry is rough and its accuracy is not stated; True otherwise."""
    if accuracy_m is not None:
        return measure_m >= float(accuracy_m)
    return None if quality in ROUGH else True


def feature_warnings(name: str, q: Mapping[str, Any]) -> list[str]:
    """What to say about one feature an answer is measured from (a project, a reference feature)."""
    quality = q.get("geometry_quality")
    if quality not in ROUGH:
        return []
    out = [f"{name} is {WHAT[str(quality)]}, {accuracy_text(q.get('accuracy_m'))}: good at kilometre scale only"]
    if q.get("geometry_stub"):
        out.append(f"{name} is a stub (two waypoints): it stands for no alignment of the project")
    if q.get("geometry_missing"):
        out.append(f"{name} does not cover every part of the project; not located: {q['geometry_missing']}")
    if q.get("location_confidence") == "weak":
        out.append(f"{name} has a weak location ({q.get('location_kind') or 'a mis-tagged OSM node'})")
    return out


def measured_from_warnings(name: str, parameter: str, measure_m: float, q: Mapping[str, Any]) -> list[str]:
    """What to say about a feature a radius or width is measured from: its quality, and the measure's."""
    return feature_warnings(name, q) + measure_warning(name, parameter, measure_m, q)


def measure_warning(name: str, parameter: str, measure_m: float, q: Mapping[str, Any]) -> list[str]:
    """A warning when a radius or width is finer than the geometry it is measured from."""
    if reliable(measure_m, q.get("accuracy_m"), q.get("geometry_quality")) is False:
        return [
            f"{parameter}={measure_m:g} m is below the {accuracy_text(q.get('accuracy_m'))} of {name}: "
            "the answer is unreliable at this scale"
        ]
    return []


def results_warnings(collection: str, features: Iterable[Mapping[str, Any]]) -> list[str]:
    """One warning per rough quality among the features of an answer, naming them and the worst accuracy."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for props in features:
        if props.get("geometry_quality") in ROUGH:
            groups.setdefault(str(props["geometry_quality"]), []).append(props)
    out = []
    for quality, members in sorted(groups.items()):
        ids = ", ".join(str(m.get("code") or m.get("id")) for m in members)
        worst = worst_accuracy(members)
        accuracy = f"accuracy up to ±{worst:,.0f} m" if worst is not None else "accuracy not stated"
        weak = [str(m.get("code") or m.get("id")) for m in members if m.get("location_confidence") == "weak"]
        tail = f"; weak location: {', '.join(weak)}" if weak else ""
        if any(m.get("location_kind") for m in members):
            tail += " (each site point is an OSM object at or in the park, not its centre)"
        out.append(f"{collection} {WITH[quality]}, {accuracy}: {ids}{tail}")
    return out


def corridor_warnings(
    project: str, width: float, state: Mapping[str, Any], parks: list[Mapping[str, Any]]
) -> list[str]:
    """What to say about a corridor: the project's line (its quality, the width against its accuracy, the
    drawn length against the project's) and the park sites the corridor meets."""
    name = f"transport_projects/{project}"
    warnings = measured_from_warnings(name, "width_m", width, quality_of(state))
    if state["geometry_quality"] in ROUGH or state.get("geometry_missing"):
        warnings.append(
            f"the corridor covers only the drawn line ({state['parts']} piece(s), {state['line_length_km']:.1f} km); "
            f"line_length_km is not the project's length (length_km: {state['length_km']})"
        )
    return warnings + results_warnings("industrial_parks", parks)


def target_warnings(name: str, limit: float, targets: list[Mapping[str, Any]]) -> list[str]:
    """Distances to a group of lines (a site-selection target) are as good as the roughest of them; a limit
    finer than its accuracy cannot tell near from far."""
    rough = [t for t in targets if t.get("geometry_quality") in ROUGH]
    if not rough:
        return []
    worst = {"geometry_quality": rough[0]["geometry_quality"], "accuracy_m": worst_accuracy(rough)}
    out = results_warnings(f"{name} lines", rough)
    out += [f"{name}: {w}" for w in measure_warning("these lines", "max_distance_m", limit, worst)]
    missing = [f"{t['code']}: {t['geometry_missing']}" for t in rough if t.get("geometry_missing")]
    if missing:
        out.append(f"{name}: parts of these lines are not located, so sites near them are missed: {'; '.join(missing)}")
    return out


def worst_accuracy(features: Iterable[Mapping[str, Any]]) -> float | None:
    """The largest ``accuracy_m`` the features state; None when none states one."""
    known = [float(f["accuracy_m"]) for f in features if f.get("accuracy_m") is not None]
    return max(known) if known else None
