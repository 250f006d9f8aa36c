"""SQL injection through every string parameter, against a real server process and the real database.

Well over 150 payloads (tautologies, stacked queries, ``pg_sleep`` timing probes, comment and quoting
tricks, lookalike quotes, identifiers meant for ``sortby``/``properties``/property names) go into every
string the service takes: query values and names, path segments, CQL2 literals and identifiers, JSON body
strings. Each answer must come without the delay a ``pg_sleep(3)`` would add, must show no SQL, driver
or traceback text, and every table must be byte for byte the same afterwards.

The writes get them too, sent with an editor's key wherever a write takes a string (the id of the feature
changed, deleted or reverted, a property name, the change comment, ``If-Match``, ``Content-Crs``) and none
of them may change a thing: no payload names a feature or a property that exists.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import psycopg
import pytest
from sqlalchemy import Engine

from gis_service.settings import Settings
from tests.accessdata import Account
from tests.hostile.edit_cases import park
from tests.hostile.rawhttp import Answer, RawClient

SLEEP_S = 3
QUOTES = ["", "'", '"', "')", "'))", '")', "`", "\\'", "1", "1)", "1'))", "admin_units", "%27", "\u02bc"]
ATTACKS = [
    " OR 1=1--",
    " OR '1'='1",
    "; DROP TABLE industrial_parks;--",
    f"; SELECT pg_sleep({SLEEP_S});--",
    f" AND pg_sleep({SLEEP_S}) IS NULL--",
    " UNION SELECT NULL,version()--",
    f"||pg_sleep({SLEEP_S})--",
    f" AND 1=(SELECT 1 FROM pg_sleep({SLEEP_S}))--",
    "/**/OR/**/1=1",
    " OR 1=1#",
]
SPECIALS = [
    f"$$; SELECT pg_sleep({SLEEP_S}); $$",
    f"E'\\'; SELECT pg_sleep({SLEEP_S});--",
    f"1; COPY industrial_parks TO PROGRAM 'sleep {SLEEP_S}'",
    "'; UPDATE industrial_parks SET name='x';--",
    "'; DELETE FROM admin_units;--",
    "'; TRUNCATE rivers CASCADE;--",
    "'; INSERT INTO rivers(code) VALUES ('x');--",
    "'; CREATE ROLE evil LOGIN SUPERUSER;--",
    "'; ALTER TABLE rivers RENAME TO gone;--",
    f"name; SELECT pg_sleep({SLEEP_S})",
    "name)--",
    f"name,(SELECT pg_sleep({SLEEP_S}))",
    "-name; DROP TABLE rivers",
    f"CASE WHEN 1=1 THEN pg_sleep({SLEEP_S}) END",
    f"pg_sleep({SLEEP_S})",
    f"(SELECT pg_sleep({SLEEP_S}))",
    f"1 OR pg_sleep({SLEEP_S})",
    "\uff07 OR 1=1--",
    "%27%20OR%201%3D1--",
    "\\x27 OR 1=1",
    "' OR 'a' LIKE 'a",
    "admin_units WHERE 1=1",
    "geom; DROP TABLE rivers",
    "ST_AsText(geom)",
    '"; DROP TABLE "rivers',
    "') OR ('1'='1",
    f"' AND (SELECT count(*) FROM pg_sleep({SLEEP_S})) > 0 AND '1'='1",
    f"'||(SELECT pg_sleep({SLEEP_S}))||'",
    "1e0 UNION SELECT 1",
    "' OR 1=1 LIMIT 1 OFFSET 0--",
    f"\\'; SELECT pg_sleep({SLEEP_S}); --",
    "'; WAITFOR DELAY '0:0:3'--",
    f"' ; select pg_sleep({SLEEP_S}) ; --",
    f"1 AND 1=(SELECT 1 FROM pg_sleep({SLEEP_S}) WHERE 1=1)",
    "name = 'x' OR 1=1",
    "S_INTERSECTS(geom, POINT(0 0)); DROP TABLE rivers",
    f"code = 'x' OR pg_sleep({SLEEP_S}) IS NULL",
    'name" OR "1"="1',
    f"status') OR pg_sleep({SLEEP_S}) IS NULL OR ('",
    "*/ OR 1=1 /*",
]
PAYLOADS = list(dict.fromkeys([q + a for q in QUOTES for a in ATTACKS] + SPECIALS))
SLEEPERS = [p for p in PAYLOADS if "sleep" in p.lower() or "waitfor" in p.lower()]
#: For the parameters that only name things (collections, properties, CRSs, formats): a third of the timing
#: probes and a seventh of everything, quoting tricks included.
SAMPLE = list(dict.fromkeys(SLEEPERS[::3] + PAYLOADS[::7]))
LEAKS = re.compile(
    r"syntax error at or near|psycopg|asyncpg|sqlalchemy|traceback|pg_catalog|ST_AsGeoJSON|string_agg"
    r"|json_build_object|LINE \d+:|\$\d+::",
    re.IGNORECASE,
)
SELECT = re.compile(r"\bselect\b", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """Where a payload goes: a name and how the request is built around the payload."""

    name: str
    build: Callable[[str], tuple[str, str, bytes | None]]
    payloads: tuple[str, ...]


def g(template: str) -> Callable[[str], tuple[str, str, bytes | None]]:
    """A GET whose target has ``{}`` replaced by the payload, percent-encoded."""
    return lambda p: ("GET", template.format(quote(p, safe="")), None)


def cql_string(payload: str) -> str:
    return "'" + payload.replace("'", "''") + "'"


def cql_identifier(payload: str) -> str:
    return '"' + payload.replace('"', '""') + '"'


def site_selection(field: str) -> Callable[[str], tuple[str, str, bytes | None]]:
    return lambda p: ("POST", "/analysis/site-selection", json.dumps({field: [p]}).encode())


def nearby_body(payload: str) -> tuple[str, str, bytes | None]:
    body = {"collection": payload, "distance_m": 500, "geometry": {"type": "Point", "coordinates": [106.73, 10.93]}}
    return "POST", "/analysis/nearby", json.dumps(body).encode()


ITEMS = "/collections/industrial_parks/items"
ALL, FEW = tuple(PAYLOADS), tuple(SAMPLE)
TARGETS = [
    Target("items q", g(ITEMS + "?q={}"), ALL),
    Target("items string property filter", g(ITEMS + "?status={}"), ALL),
    Target("items cql2 string literal", lambda p: g(ITEMS + "?filter={}")("name = " + cql_string(p)), ALL),
    Target("items cql2 like pattern", lambda p: g(ITEMS + "?filter={}")("name LIKE " + cql_string(p)), ALL),
    Target("items cql2 whole filter", g(ITEMS + "?filter={}"), ALL),
    Target("item id (text)", g(ITEMS + "/{}"), ALL),
    Target("item id (integer)", g("/collections/admin_units/items/{}"), ALL),
    Target("crosswalk code", g("/analysis/crosswalk?code={}"), ALL),
    Target("corridor project", g("/analysis/corridor?project={}&width_m=60"), ALL),
    Target("raster unit admin_code", g("/rasters/population_density/statistics?admin_code={}"), ALL),
    Target(
        "nearby feature id",
        g("/analysis/nearby?collection=industrial_parks&distance_m=500&feature=transport_projects/{}"),
        ALL,
    ),
    Target("site-selection types", site_selection("types"), ALL),
    Target("items sortby", g(ITEMS + "?sortby={}"), FEW),
    Target("items properties", g(ITEMS + "?properties={}"), FEW),
    Target("items cql2 property name", lambda p: g(ITEMS + "?filter={}")(cql_identifier(p) + " = 1"), FEW),
    Target(
        "items cql2-json property name",
        lambda p: g(ITEMS + "?filter-lang=cql2-json&filter={}")(json.dumps({"op": "=", "args": [{"property": p}, 1]})),
        FEW,
    ),
    Target("items property filter name", lambda p: ("GET", f"{ITEMS}?{quote(p, safe='')}=1", None), FEW),
    Target("items collection id", g("/collections/{}/items"), FEW),
    Target("items crs", g(ITEMS + "?crs={}"), FEW),
    Target("items bbox-crs", g(ITEMS + "?bbox=1,2,3,4&bbox-crs={}"), FEW),
    Target("items filter-lang", g(ITEMS + "?filter=name%3D%27x%27&filter-lang={}"), FEW),
    Target("items datetime", g("/collections/admin_units/items?datetime={}"), FEW),
    Target("items f", g(ITEMS + "?f={}"), FEW),
    Target("area-stats collection", g("/analysis/area-stats?collection={}"), FEW),
    Target("area-stats by", g("/analysis/area-stats?collection=industrial_parks&by={}"), FEW),
    Target("area-stats units", g("/analysis/area-stats?collection=industrial_parks&units={}"), FEW),
    Target("nearby collection", g("/analysis/nearby?collection={}&distance_m=500&lon=106.73&lat=10.93"), FEW),
    Target("nearby posted collection", nearby_body, FEW),
    Target("reassign collection", g("/analysis/reassign?collection={}"), FEW),
    Target("site-selection exclude", site_selection("exclude"), FEW),
    Target("xyz tile collection", g("/tiles/{}/10/812/490.pbf"), FEW),
    Target("planning tile collections", g("/tiles/planning/10/812/490.pbf?collections={}"), FEW),
    Target("tile filter", g("/collections/industrial_parks/tiles/WebMercatorQuad/10/812/490?filter={}"), FEW),
    Target("raster id", g("/rasters/{}/point?lon=106.73&lat=10.93"), FEW),
    Target("raster colormap", g("/rasters/population_density/tilejson.json?colormap={}"), FEW),
    Target("map collection", g("/maps/collections/{}"), FEW),
    Target("queryables collection", g("/collections/{}/queryables"), FEW),
    Target("schema collection", g("/collections/{}/schema"), FEW),
]


#: (method, target, body, headers) of a write carrying the payload; the editor's key is added when sent.
EditBuild = Callable[[str], tuple[str, str, bytes | None, dict[str, str]]]
PATCH_HEADERS = {"Content-Type": "application/merge-patch+json"}
BUNDLED_PARK = ITEMS + "/VSIP1"


def edit_id(method: str, suffix: str = "", body: bytes | None = None) -> EditBuild:
    headers = PATCH_HEADERS if body is not None else {}
    return lambda p: (method, f"{ITEMS}/{quote(p, safe='')}{suffix}", body, headers)


def edit_header(name: str, target: str = BUNDLED_PARK + "x") -> EditBuild:
    """A PATCH of a feature that does not exist (or a well-formed one that is refused) carrying the payload
    in a header: the change context is set in the database before the feature is looked up."""
    return lambda p: ("PATCH", target, b"{}", {**PATCH_HEADERS, name: p})


JSON = {"Content-Type": "application/json"}
#: A change of a proposal that names no feature there is (the payloads go into its members).
CHANGE = {"collection": "industrial_parks", "op": "update", "id": "NOPE", "baseVersion": 1, "feature": park()}


def proposal(change: Callable[[str], dict[str, object]]) -> EditBuild:
    """A proposal of one change carrying the payload: refused (the change names no feature there is, or is no
    change at all); a feature the collection takes, so that an id gets as far as the database."""
    return lambda p: ("POST", "/proposals", json.dumps({"title": "t", "changes": [change(p)]}).encode(), JSON)


def latin1(payloads: tuple[str, ...]) -> tuple[str, ...]:
    """What a header can carry."""
    return tuple(p for p in payloads if all(ord(c) < 256 and c not in "\r\n\x00" for c in p))


EDIT_TARGETS: list[tuple[str, EditBuild, tuple[str, ...]]] = [
    ("edit: feature id of a change", edit_id("PATCH", body=b"{}"), ALL),
    ("edit: feature id of a delete", edit_id("DELETE"), FEW),
    ("edit: feature id of a revert", edit_id("POST", "/revert?version=1"), FEW),
    ("edit: feature id of a history", edit_id("GET", "/history"), FEW),
    (
        "edit: property name",
        lambda p: ("PATCH", BUNDLED_PARK, json.dumps({"properties": {p: 1}}).encode(), PATCH_HEADERS),
        FEW,
    ),
    ("edit: change comment", edit_header("X-Change-Comment"), latin1(ALL)),
    ("edit: If-Match", edit_header("If-Match"), latin1(FEW)),
    ("edit: Content-Crs", edit_header("Content-Crs", BUNDLED_PARK), latin1(FEW)),
    (
        "edit: changes from",
        lambda p: ("GET", f"/collections/industrial_parks/changes?from={quote(p, safe='')}", None, {}),
        FEW,
    ),
    ("edit: items asOf", lambda p: ("GET", f"{ITEMS}?asOf={quote(p, safe='')}", None, {}), FEW),
    ("proposal: id of a change", proposal(lambda p: {**CHANGE, "id": p}), ALL),
    ("proposal: collection of a change", proposal(lambda p: {**CHANGE, "collection": p}), FEW),
    ("proposal: op of a change", proposal(lambda p: {**CHANGE, "op": p}), FEW),
    ("proposals: status", lambda p: ("GET", f"/proposals?status={quote(p, safe='')}", None, {}), FEW),
    ("proposal: id", lambda p: ("GET", f"/proposals/{quote(p, safe='')}", None, {}), FEW),
    (
        "proposal: reason of a rejection",
        lambda p: ("POST", f"/proposals/{2**62}/reject", json.dumps({"reason": p}).encode(), JSON),
        FEW,
    ),
]
#: Tables a request with a key may change without changing data: when the key was last used, the access audit;
#: and the roles, which are the cluster's (other sessions on it make theirs): the payloads' role is looked for.
BOOKKEEPING = frozenset({"api_keys", "audit_log", "roles"})
PAYLOAD_ROLE = "evil"


def echoed_forms(payload: str) -> list[str]:
    """The ways an answer may legitimately quote the payload back (error details, self links)."""
    forms = {payload, repr(payload)[1:-1], quote(payload, safe=""), quote_plus(payload), quote(payload, safe="/")}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}
    return [f.lower() for f in forms]


def sql_in(answer: Answer, payload: str) -> str | None:
    """SQL, driver or traceback text in the answer that is not the payload quoted back."""
    text = answer.text()
    if leak := LEAKS.search(text):
        return leak.group()
    lowered, forms = text.lower(), echoed_forms(payload)
    for match in SELECT.finditer(lowered):
        before, after = lowered[max(0, match.start() - 6) : match.end()], lowered[match.start() : match.end() + 6]
        if not any(before in form or after in form for form in forms):
            return lowered[max(0, match.start() - 40) : match.end() + 40]
    return None


def table_checksums(dsn: str) -> dict[str, str]:
    """Row count and an order-independent digest of every table, and the roles, of the test database."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
        ]
        sums = {}
        for name in tables:
            digest = "md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), ''))"
            row = conn.execute(f'SELECT count(*), {digest} FROM public."{name}" t').fetchone()
            sums[name] = f"{row[0]}:{row[1]}" if row else ""
        sums["roles"] = ",".join(r[0] for r in conn.execute("SELECT rolname FROM pg_roles ORDER BY 1"))
    return sums


@pytest.fixture(scope="module")
def checksums_before(migrated: Settings, bundled: Engine) -> dict[str, str]:
    return table_checksums(migrated.dsn)


def answers(raw: RawClient) -> Iterator[tuple[str, str, Answer]]:
    for target in TARGETS:
        for payload in target.payloads:
            method, path, body = target.build(payload)
            headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if body else {})}
            yield target.name, payload, raw.request(method, path, body=body, headers=headers)


def write_answers(raw: RawClient, key: str) -> Iterator[tuple[str, str, Answer]]:
    for name, build, payloads in EDIT_TARGETS:
        for payload in payloads:
            method, path, body, headers = build(payload)
            sent = {"Accept": "application/json", "Authorization": f"Bearer {key}", **headers}
            yield name, payload, raw.request(method, path, body=body, headers=sent)


def injection_failures(answers: Iterable[tuple[str, str, Answer]], *, refused: bool) -> list[str]:
    """Answers that failed (a 5xx; anything but a 4xx where each payload must be ``refused``), that show SQL,
    or that took as much longer than usual as a ``pg_sleep`` would."""
    failures: list[str] = []
    usual: dict[str, list[float]] = {}
    probes: list[tuple[str, str, float]] = []
    for name, payload, answer in answers:
        label = f"{name} <- {payload!r}"
        if answer.status >= 500 or (refused and not 400 <= answer.status < 500):
            failures.append(f"{label}: status {answer.status} {answer.text()[:200]}")
        if leak := sql_in(answer, payload):
            failures.append(f"{label}: SQL or driver text in the answer: {leak!r}")
        if payload in SLEEPERS:
            probes.append((name, payload, answer.seconds))
        else:
            usual.setdefault(name, []).append(answer.seconds)
    for name, payload, seconds in probes:
        if seconds > (median := statistics.median(usual[name])) + SLEEP_S * 0.5:
            failures.append(f"{name} <- {payload!r}: {seconds:.2f} s against {median:.2f} s usually")
    return failures


def changed(before: dict[str, str], after: dict[str, str], bookkeeping: frozenset[str] = frozenset()) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t) and t not in bookkeeping)


def test_there_are_enough_payloads_and_every_target_gets_timing_probes() -> None:
    assert len(PAYLOADS) >= 150, len(PAYLOADS)
    assert len(SLEEPERS) >= 40, len(SLEEPERS)
    assert all(len(set(SLEEPERS) & set(target.payloads)) >= 20 for target in TARGETS)
    assert all(len(set(SLEEPERS) & set(payloads)) >= 20 for _, _, payloads in EDIT_TARGETS)


def test_no_payload_injects_delays_leaks_sql_or_changes_data(
    raw: RawClient, migrated: Settings, checksums_before: dict[str, str]
) -> None:
    failures = injection_failures(answers(raw), refused=False)
    assert raw.get("/health").status == 200, "the server is down after the injection attempts"
    assert not (moved := changed(checksums_before, table_checksums(migrated.dsn))), f"data changed in {moved}"
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


def test_no_payload_in_a_write_injects_delays_leaks_sql_or_changes_data(
    raw: RawClient, migrated: Settings, editor: Account
) -> None:
    before = table_checksums(migrated.dsn)
    failures = injection_failures(write_answers(raw, editor.key), refused=True)
    after = table_checksums(migrated.dsn)
    assert not (moved := changed(before, after, BOOKKEEPING)), f"data changed in {moved}"
    assert PAYLOAD_ROLE not in after["roles"].split(","), "a payload made a role"
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


#: What a title, a comment or a reason may hold, kept as sent: markup, template syntax, SQL and its timing
#: probes, quoting, a bidirectional override, control characters, emoji, the longest text allowed.
HOSTILE_TEXT = [
    '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "{{7*7}} ${7*7} <%= 7*7 %> {% debug %}",
    "'; DROP TABLE proposals;--",
    *SLEEPERS[::6],
    "\\'\"`$$",
    "\u202eKCN Việt\u202c 🏭",
    "\r\n\t\u0007 padded ",
    "t" * 2000,
]


def test_hostile_text_in_proposals_is_kept_as_text(raw: RawClient, migrated: Settings, editor: Account) -> None:
    """Titles, comments and reasons are stored and answered as sent; none changes anything but its proposal,
    none delays an answer or shows SQL."""
    before = table_checksums(migrated.dsn)
    sent = {"Accept": "application/json", "Authorization": f"Bearer {editor.key}", **JSON}
    create = {"collection": "industrial_parks", "op": "create", "feature": park()}
    kept, timed = [], []
    for text in HOSTILE_TEXT:
        body = json.dumps({"title": text, "comment": text, "changes": [create]}).encode()
        made = raw.request("POST", "/proposals", body=body, headers=sent)
        assert made.status == 201, f"{text[:60]!r}: {made.status} {made.text()[:200]}"
        number = made.json()["id"]
        reason = json.dumps({"reason": text}).encode()
        rejected = raw.request("POST", f"/proposals/{number}/reject", body=reason, headers=sent)
        shown = raw.get(f"/proposals/{number}", headers=sent)
        timed += [("proposal title", text, made), ("rejection reason", text, rejected), ("proposal", text, shown)]
        kept.append(
            (rejected.status, *(shown.json().get(k) for k in ("title", "comment", "reason"))) == (200, text, text, text)
        )
    failures = injection_failures(timed, refused=False)
    assert not (moved := changed(before, table_checksums(migrated.dsn), BOOKKEEPING | {"proposals"})), moved
    assert all(kept), [text[:60] for text, same in zip(HOSTILE_TEXT, kept, strict=True) if not same]
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
