"""Changing who may do what (the ``gis-service users|keys|grants`` commands): one transaction per change,
with its audit row in the same transaction. Runs with the administrative connection (``database_url``),
never through the HTTP throttle, so the CLI cannot be locked out.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from gis_service.auth import dbroles, keys
from gis_service.auth.principal import RANK, Scope, ScopeError
from gis_service.catalog import Catalog
from gis_service.db import sync_engine, transaction
from gis_service.errors import InvalidParameter, NotFound
from gis_service.models.access import PRINCIPAL_KINDS, ROLES
from gis_service.queries import access as aq
from gis_service.settings import Settings

GROUP_PREFIX = "group:"


def actor() -> str:
    return f"cli:{getpass.getuser()}"


@dataclass(frozen=True)
class Subject:
    """A principal (by name) or a group (``group:NAME``): who a grant or an edit area is for."""

    principal_id: int | None
    group: str | None
    label: str


@dataclass(frozen=True)
class GrantResult:
    subject: str
    collection: str
    role: str
    area: bool
    login: dbroles.Login | None = None


class Admin:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = sync_engine(settings)

    def close(self) -> None:
        self.engine.dispose()

    def _audit(self, conn: Connection, event: str, subject: str, **detail: Any) -> None:
        collection = detail.pop("collection", None)
        conn.execute(
            aq.audit(event, actor=actor(), subject=subject, collection=collection, address="local", detail=detail)
        )

    # ---- users ---------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        kind: str = "user",
        display_name: str | None = None,
        oidc_subject: str | None = None,
        admin: bool = False,
        groups: Sequence[str] = (),
    ) -> int:
        if kind not in PRINCIPAL_KINDS:
            raise InvalidParameter(f"kind must be one of {', '.join(PRINCIPAL_KINDS)}", parameter="kind")
        with transaction(self.engine) as conn:
            try:
                principal_id = int(
                    conn.execute(aq.add_principal(name, kind, display_name or name, oidc_subject, admin)).scalar_one()
                )
            except IntegrityError as exc:
                raise InvalidParameter(_integrity(exc, name), parameter="name") from None
            if groups:
                conn.execute(aq.add_groups(principal_id, list(groups)))
            self._audit(conn, "user_add", name, kind=kind, admin=admin, groups=list(groups), oidc_subject=oidc_subject)
        return principal_id

    def users(self) -> list[Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(aq.principals()))

    def disable_user(self, name: str) -> None:
        with transaction(self.engine) as conn:
            row = self._principal(conn, name)
            conn.execute(aq.set_disabled(row.id, True))
            if row.db_role:
                dbroles.disable_login(_raw(conn), row.db_role)
            self._audit(conn, "user_disable", name)

    def _principal(self, conn: Connection, name: str) -> Row[Any]:
        row = conn.execute(aq.principal_by_name(name)).first()
        if row is None:
            raise NotFound(f"no account named {name!r} (gis-service users list)", parameter="user")
        return row

    # ---- keys ----------------------------------------------------------------------------------

    def create_key(
        self, name: str, *, label: str | None = None, scopes: Sequence[str] = (), expires_days: int | None = None
    ) -> keys.NewKey:
        pepper = self._pepper()
        parsed = [str(self._scope(s)) for s in scopes]
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days) if expires_days else None
        new = keys.generate()
        with transaction(self.engine) as conn:
            row = self._principal(conn, name)
            conn.execute(aq.add_key(row.id, new.prefix, keys.digest(pepper, new.secret), label, parsed, expires))
            self._audit(conn, "key_create", name, prefix=new.prefix, scopes=parsed, expires_at=str(expires))
        return new

    def _pepper(self) -> bytes:
        pepper = self.settings.auth.pepper_bytes
        if pepper is None:
            raise InvalidParameter("no GIS_AUTH__PEPPER: run `gis-service db up` (it writes .data/secrets.env)")
        return pepper

    def _scope(self, text: str) -> Scope:
        try:
            scope = Scope.parse(text)
        except ScopeError as exc:
            raise InvalidParameter(str(exc), parameter="scope") from None
        if scope.collection != "*":
            self._catalog().get(scope.collection)
        return scope

    def _catalog(self) -> Catalog:
        return Catalog.from_dir(self.settings.layers_dir)

    def keys(self, name: str | None = None) -> list[Row[Any]]:
        with self.engine.connect() as conn:
            principal_id = self._principal(conn, name).id if name else None
            return list(conn.execute(aq.keys(principal_id)))

    def revoke_key(self, prefix: str) -> None:
        with transaction(self.engine) as conn:
            if conn.execute(aq.revoke_key(prefix)).first() is None:
                raise NotFound(f"no active key {prefix!r} (gis-service keys list)", parameter="prefix")
            self._audit(conn, "key_revoke", prefix)

    # ---- grants --------------------------------------------------------------------------------

    def _subject(self, conn: Connection, text: str) -> Subject:
        if text.startswith(GROUP_PREFIX) and len(text) > len(GROUP_PREFIX):
            return Subject(None, text[len(GROUP_PREFIX) :], text)
        return Subject(self._principal(conn, text).id, None, text)

    def set_grant(
        self,
        who: str,
        collection: str,
        role: str,
        *,
        area: Path | None = None,
        crs: str | None = None,
        db_login: bool = False,
    ) -> GrantResult:
        """Exactly this grant: the role, and the edit area (none: the whole collection)."""
        spec = self._catalog().get(collection)
        if role not in ROLES:
            raise InvalidParameter(f"role must be one of {', '.join(ROLES)} (admin is global)", parameter="role")
        if area is not None and RANK[role] < RANK["editor"]:
            raise InvalidParameter("--area limits editing: give an editing role", parameter="area")
        wkb = read_area(area, crs) if area is not None else None
        with transaction(self.engine) as conn:
            subject = self._subject(conn, who)
            conn.execute(aq.set_grant(subject.principal_id, subject.group, spec.id, role, actor()))
            if wkb is None:
                conn.execute(aq.drop_area(subject.principal_id, subject.group, spec.id))
            else:
                conn.execute(aq.set_area(subject.principal_id, subject.group, spec.id, wkb, actor()))
            login = self._db_login(conn, subject) if db_login else None
            detail = {"role": role, "area": str(area) if area else None, "db_login": login.role if login else None}
            self._audit(conn, "grant_set", subject.label, collection=spec.id, **detail)
        return GrantResult(subject.label, spec.id, role, wkb is not None, login)

    def _db_login(self, conn: Connection, subject: Subject) -> dbroles.Login:
        if subject.principal_id is None:
            raise InvalidParameter("--db-login is for an account, not a group", parameter="db-login")
        database = conn.execute(aq.current_database()).scalar_one()
        login = dbroles.create_login(_raw(conn), dbroles.login_role_name(database, subject.label))
        conn.execute(aq.set_db_role(subject.principal_id, login.role))
        return login

    def grants(self, who: str | None = None) -> list[Row[Any]]:
        with self.engine.connect() as conn:
            subject = self._subject(conn, who) if who else Subject(None, None, "")
            return list(conn.execute(aq.grant_list(subject.principal_id, subject.group)))

    def revoke_grant(self, who: str, collection: str, role: str | None = None) -> list[str]:
        with transaction(self.engine) as conn:
            subject = self._subject(conn, who)
            removed = [
                r[0] for r in conn.execute(aq.revoke_grant(subject.principal_id, subject.group, collection, role))
            ]
            if not removed:
                what = f"{role} on {collection}" if role else f"any role on {collection}"
                raise NotFound(f"{who} has no grant of {what}", parameter="collection")
            conn.execute(aq.drop_area(subject.principal_id, subject.group, collection))
            self._audit(conn, "grant_revoke", subject.label, collection=collection, role=removed)
        return removed

    def audit(self, limit: int = 50) -> list[Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(aq.audit_log(limit)))


def read_area(path: Path, crs: str | None = None) -> bytes:
    """A polygon file in any CRS (the loader's reader) as one valid MultiPolygon in EPSG:4326 (WKB)."""
    from gis_service.ingest import reader

    raw = reader.read_file(path)
    lonlat = reader.to_lonlat(raw.geometries, reader.source_crs(raw, crs))
    polygons = [g for g in lonlat if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise InvalidParameter(f"{path.name} has no polygons to make an edit area of", parameter="area")
    union = shapely.union_all(shapely.make_valid(polygons))
    parts = [p for p in getattr(union, "geoms", [union]) if p.geom_type in ("Polygon", "MultiPolygon")]
    area = shapely.MultiPolygon([q for p in parts for q in getattr(p, "geoms", [p])])
    west, south, east, north = area.bounds
    if area.is_empty or not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidParameter(f"{path.name}: the area is empty or not in lon/lat after reprojection", parameter="area")
    return bytes(shapely.to_wkb(area))


def _raw(conn: Connection) -> Any:
    """The psycopg connection under SQLAlchemy's, in the same transaction (role DDL with psycopg.sql)."""
    return conn.connection.driver_connection


def _integrity(exc: IntegrityError, name: str) -> str:
    text = str(exc.orig)
    if "uq_principals_name" in text:
        return f"an account named {name!r} exists already"
    if "uq_principals_oidc_subject" in text:
        return "another account has this OIDC subject"
    if "ck_principals_name" in text:
        return "a name is letters, digits and . _ @ - (at most 64), starting with a letter or digit"
    return "the account breaks a constraint of the principals table"
