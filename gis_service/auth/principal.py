"""Principals and the access decision: pure, so the same answer holds for HTTP, the CLI and the tests.

Per-collection roles grow from ``viewer`` (read) to ``editor`` (change features, inside an edit area when
the grant has one), ``curator`` (also revert and export history) and ``layer-admin`` (manage grants);
``admin`` is global. An API key may narrow what its principal may do with scopes (``collection[:role]``,
``*`` for every collection), never widen it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gis_service.models.access import ROLES


class Action(StrEnum):
    READ = "read"
    EDIT = "edit"
    CURATE = "curate"
    ADMINISTER = "administer"


#: The weakest role that allows each action.
NEEDS = {Action.READ: "viewer", Action.EDIT: "editor", Action.CURATE: "curator", Action.ADMINISTER: "layer-admin"}
RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}


class ScopeError(ValueError):
    pass


@dataclass(frozen=True)
class Scope:
    collection: str  # "*" for every collection
    role: str  # the most the key may do there

    @classmethod
    def parse(cls, text: str) -> Scope:
        collection, _, role = text.strip().partition(":")
        role = role or ROLES[-1]
        if not collection or role not in RANK:
            raise ScopeError(f"scope {text!r} is not collection[:role] with a role among {', '.join(ROLES)}")
        return cls(collection, role)

    def __str__(self) -> str:
        return f"{self.collection}:{self.role}"


@dataclass(frozen=True)
class GrantInfo:
    role: str
    #: The grant holds inside an edit area only (row-level security enforces it on writes).
    area: bool = False


@dataclass(frozen=True)
class Principal:
    """Who is calling, with everything the decision needs, read once per request."""

    id: int | None
    name: str
    kind: str = "user"
    admin: bool = False
    groups: tuple[str, ...] = ()
    grants: Mapping[str, GrantInfo] = field(default_factory=dict)
    #: None: not narrowed (an OIDC token, or a key without scopes).
    scopes: tuple[Scope, ...] | None = None
    #: How the caller proved it: api-key (bearer, x-api-key, basic) or oidc.
    scheme: str = "api-key"

    def role_for(self, collection: str) -> str | None:
        """The effective role on ``collection`` (None: none), the key's scopes applied."""
        role = ROLES[-1] if self.admin else (self.grants[collection].role if collection in self.grants else None)
        if role is None or self.scopes is None:
            return role
        caps = [s.role for s in self.scopes if s.collection in (collection, "*")]
        if not caps:
            return None
        cap = max(caps, key=RANK.__getitem__)
        return min(role, cap, key=RANK.__getitem__)

    def may(self, collection: str, action: Action) -> bool:
        role = self.role_for(collection)
        return role is not None and RANK[role] >= RANK[NEEDS[action]]

    def __str__(self) -> str:
        return self.name


def merge_grants(rows: list[tuple[str, str, bool]]) -> dict[str, GrantInfo]:
    """(collection, role, has_area) from the principal's grants and its groups': the strongest role wins;
    an editing grant without an area frees the collection from areas."""
    merged: dict[str, GrantInfo] = {}
    for collection, role, area in rows:
        edits = RANK[role] >= RANK["editor"]
        seen = merged.get(collection)
        if seen is None:
            merged[collection] = GrantInfo(role, area and edits)
            continue
        if not edits:
            limited = seen.area
        elif RANK[seen.role] < RANK["editor"]:
            limited = area
        else:
            limited = seen.area and area
        merged[collection] = GrantInfo(max(seen.role, role, key=RANK.__getitem__), limited)
    return merged
