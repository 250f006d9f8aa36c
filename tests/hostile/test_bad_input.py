"""Hundreds of bad inputs, byte for byte, against a real server process: each one a 4xx problem+json.

The cases are tables (``cases.py``, ``edit_cases.py``: endpoint families x payloads) that reach every route of
the app. They run in a loop over one keep-alive raw socket; a failure lists every failing case by name with
what came back, and the server must answer ``/health`` every so often and at the end, so a request that kills
or wedges it fails the test. The writes run twice: with the key of an editor who may write (so the input
itself is refused, with what is wrong named), and without credentials (a 401 before the body is read).
"""

from __future__ import annotations

from collections import Counter

import pytest

from gis_service.main import create_app
from gis_service.settings import Settings
from tests.accessdata import Account
from tests.hostile.cases import all_cases
from tests.hostile.edit_cases import anonymous_edit_cases, edit_cases
from tests.hostile.fuzzedits import EditingTargets
from tests.hostile.odd_cases import odd_but_valid_cases, raw_byte_cases
from tests.hostile.payloads import PARKS, Case
from tests.hostile.rawhttp import Answer, RawClient
from tests.hostile.routes import reached, routes

MAX_SECONDS = 15.0
HEALTH_EVERY = 50
#: Details too generic to help anyone (the text of the catch-all 500 handler included).
USELESS_DETAILS = ("an unexpected error occurred", "Bad Request", "Not Found", "Unprocessable")


def send(raw: RawClient, case: Case) -> Answer:
    headers = {"Accept": "application/json", **case.headers}
    return raw.request(case.method, case.target, body=case.body, headers=headers)


def problems_with(case: Case, answer: Answer) -> list[str]:
    """What is wrong with the answer to a bad request (empty when all is well)."""
    wrong = []
    if case.status is not None and answer.status != case.status:
        wrong.append(f"status {answer.status}, not {case.status}")
    elif not 400 <= answer.status < 500:
        wrong.append(f"status {answer.status}")
    if answer.status == 401 and not answer.headers.get("www-authenticate"):
        wrong.append("401 without a challenge (WWW-Authenticate)")
    if answer.seconds > MAX_SECONDS:
        wrong.append(f"took {answer.seconds:.1f} s")
    if answer.media_type != "application/problem+json":
        return [*wrong, f"media type {answer.media_type!r}: {answer.text()[:200]}"]
    body = answer.json()
    detail = body.get("detail")
    if not isinstance(detail, str) or len(detail) < 10 or detail.startswith(USELESS_DETAILS):
        wrong.append(f"detail {detail!r}")
    if body.get("status") != answer.status:
        wrong.append(f"body status {body.get('status')} != {answer.status}")
    if case.params is not None and answer.status == 400 and body.get("parameter") not in case.params:
        wrong.append(f"parameter {body.get('parameter')!r}, expected one of {sorted(case.params)}")
    return wrong


def healthy(raw: RawClient) -> str | None:
    try:
        answer = raw.get("/health", headers={"Accept": "application/json"})
    except OSError as exc:
        return f"/health: {type(exc).__name__}: {exc}"
    return None if answer.status == 200 else f"/health answered {answer.status}: {answer.text()[:300]}"


def test_the_table_covers_every_endpoint_family_with_hundreds_of_cases() -> None:
    cases = all_cases()
    families = Counter(case.family for case in cases)
    assert len(cases) >= 400, len(cases)
    expected = {
        "items",
        "item",
        "queryables",
        "tiles",
        "tilesets",
        "tilejson",
        "analysis_get",
        "analysis_post",
        "raster",
        "maps",
        "collections",
        "conformance",
        "landing",
        "health",
        "api",
        "style",
        "glyphs",
        "editor",
        "static",
        "options",
    }
    assert expected <= set(families), sorted(expected - set(families))


def test_the_tables_reach_every_route_of_the_app(migrated: Settings) -> None:
    """A route added without bad input of its own fails here (computed from the app's routes)."""
    app = create_app(migrated)
    cases = [
        *all_cases(),
        *edit_cases("key", "ID", 1),
        *anonymous_edit_cases("ID"),
        *odd_but_valid_cases(),
        *raw_byte_cases(),
    ]
    unreached = routes(app) - {reached(app, case.method, case.target) for case in cases}
    assert not unreached, f"no bad-input case reaches {sorted(unreached)}"


def test_every_bad_input_is_a_4xx_problem_and_the_server_stays_up(raw: RawClient) -> None:
    assert_refused(raw, all_cases())


def test_every_bad_write_of_an_editor_is_a_4xx_problem_naming_what_is_wrong(
    raw: RawClient, editor: Account, editing_targets: EditingTargets, open_proposal: int
) -> None:
    park = sorted(editing_targets.made["industrial_parks"])[0]
    cases = edit_cases(editor.key, park, open_proposal)
    assert len(cases) >= 80
    assert_refused(raw, cases)
    unchanged = raw.get(f"{PARKS}/items/{park}", headers={"Accept": "application/geo+json"})
    assert unchanged.headers.get("etag") == '"v1"', "a refused write changed the feature"
    proposal = raw.get(f"/proposals/{open_proposal}", headers={"Authorization": f"Bearer {editor.key}"})
    assert proposal.json()["status"] == "open", "a refused decision decided the proposal"


def test_writes_without_credentials_are_refused_before_their_body_is_read(
    raw: RawClient, editing_targets: EditingTargets
) -> None:
    assert_refused(raw, anonymous_edit_cases(sorted(editing_targets.made["industrial_parks"])[0]))


def assert_refused(raw: RawClient, cases: list[Case]) -> None:
    failures: list[str] = []
    for number, case in enumerate(cases, 1):
        try:
            answer = send(raw, case)
        except OSError as exc:
            failures.append(f"{case.label}: no answer ({type(exc).__name__}: {exc})")
            raw.close()
            answer = None
        if answer is not None and (wrong := problems_with(case, answer)):
            failures.append(f"{case.label}: {'; '.join(wrong)}")
        if number % HEALTH_EVERY == 0 and (down := healthy(raw)):
            failures.append(f"after {case.label}: {down}")
            break
    if down := healthy(raw):
        failures.append(f"at the end: {down}")
    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    ("cases", "problems_only"),
    [(odd_but_valid_cases, False), (raw_byte_cases, True)],
    ids=["odd but valid input", "raw bytes in the request line"],
)
def test_odd_input_is_answered_without_a_server_error(raw: RawClient, cases: object, problems_only: bool) -> None:
    """Answered (a 2xx, or a 4xx problem), never a 5xx; a refusal of raw bytes by the HTTP parser itself (a
    plain 400 before the application) counts as answered."""
    failures = []
    for case in cases():  # type: ignore[operator]
        try:
            answer = send(raw, case)
        except OSError as exc:
            failures.append(f"{case.label}: no answer ({type(exc).__name__}: {exc})")
            raw.close()
            continue
        if answer.status >= 500 or answer.seconds > MAX_SECONDS:
            failures.append(f"{case.label}: {answer.status} in {answer.seconds:.1f} s: {answer.text()[:200]}")
            continue
        refused = answer.status >= 400 and (answer.media_type == "application/problem+json" or not problems_only)
        if refused and (wrong := problems_with(case, answer)):
            failures.append(f"{case.label}: {'; '.join(wrong)}")
    assert healthy(raw) is None
    assert not failures, "\n".join(failures)
