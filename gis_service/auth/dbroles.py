"""Database roles: cluster-wide names, per-database grants.

Several databases share one PostgreSQL cluster (``gis``, ``gis_test``, ...) and roles belong to the cluster,
so the roles are created when missing and never dropped; ownership, grants and policies live in each
database (migration ``0004``), and a downgrade of one database leaves the others untouched.

- ``gis_owner`` (no login) owns the tables and the trigger functions; migrations and loaders act as it
  (or as a superuser);
- ``gis_app`` logs in as the API: not an owner, so row-level security applies to it; it says who is
  editing with ``set_config('app.user_id', ..., true)``;
- ``gis_reader`` (no login) may only read the published layers: grant it to replica or tile logins;
- ``gis_editor`` (no login) is the group of the per-person login roles that edit PostGIS directly
  (QGIS), under the same policies as the API.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql

from gis_service.models.history import EDITABLE_TABLES as EDITABLE_TABLES  # the layers under row-level security

OWNER = "gis_owner"
APP = "gis_app"
READER = "gis_reader"
EDITOR = "gis_editor"
ROLES = (OWNER, APP, READER, EDITOR)
#: What an existing DATABASE_URL setup needs from its DBA when we may not create roles ourselves.
DBA_SENTENCE = (
    "the API connects as a role that owns nothing, so row-level security applies to it: as a superuser run "
    f"CREATE ROLE {OWNER} NOLOGIN; CREATE ROLE {READER} NOLOGIN; CREATE ROLE {EDITOR} NOLOGIN; "
    f"CREATE ROLE {APP} LOGIN PASSWORD '...'; then set GIS_DB__APP_ROLE={APP} and GIS_DB__APP_PASSWORD "
    "(until then requests run as the DATABASE_URL user)"
)


class RoleError(RuntimeError):
    """The roles cannot be created or changed with this connection; the message says what is needed."""


@dataclass(frozen=True)
class Login:
    role: str
    password: str

    def __repr__(self) -> str:  # the password never reaches a log or a traceback
        return f"Login(role={self.role!r}, password='***')"


def can_manage_roles(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone()
    return bool(row and row[0])


def ensure_roles(conn: psycopg.Connection, app_password: str) -> None:
    """Create the four roles when missing (concurrent creators are fine) and set the app role's login."""
    if not can_manage_roles(conn):
        missing = [r for r in ROLES if not role_exists(conn, r)]
        if missing:
            raise RoleError(f"roles {missing} are missing and {current_user(conn)} may not create them: {DBA_SENTENCE}")
        return
    for role in ROLES:
        create_role(conn, role)
    conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(APP), sql.Literal(app_password)))


def create_role(conn: psycopg.Connection, role: str) -> None:
    """``CREATE ROLE ... NOLOGIN`` unless it exists; another database creating it at the same time is fine."""
    statement = sql.SQL(
        "DO $$ BEGIN CREATE ROLE {} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ).format(sql.Identifier(role))
    conn.execute(statement)


def role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def current_user(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_user").fetchone()
    return str(row[0]) if row else "?"


def login_role_name(database: str, principal: str) -> str:
    """``<database>__<principal>``, lower case, letters, digits and ``_`` only, at most 63 characters:
    one person's login in one database does not collide with a namesake's in another."""
    base = re.sub(r"[^a-z0-9_]", "_", f"{database}__{principal}".lower())
    if len(base) <= 63:
        return base
    return base[:54] + "_" + secrets.token_hex(4)


def create_login(conn: psycopg.Connection, role: str) -> Login:
    """A login role in the editors' group with a fresh password (shown once); an existing one gets a new one."""
    if not can_manage_roles(conn):
        raise RoleError(f"{current_user(conn)} may not create login roles; run this as a superuser")
    password = secrets.token_urlsafe(24)
    create_role(conn, role)
    ident = sql.Identifier(role)
    conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(password)))
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(EDITOR), ident))
    return Login(role, password)


def disable_login(conn: psycopg.Connection, role: str) -> None:
    if role_exists(conn, role):
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
