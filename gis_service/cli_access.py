"""``gis-service users|keys|grants|audit``: accounts, API keys, per-collection grants and edit areas."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from gis_service.settings import load_settings

users_app = typer.Typer(help="Accounts (people and services) that API keys and tokens belong to.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: shown once, stored as an HMAC.", no_args_is_help=True)
grants_app = typer.Typer(help="Who may do what on which collection (and where).", no_args_is_help=True)
User = Annotated[str, typer.Argument(help="Account name, or group:NAME for a group.")]
Collection = Annotated[str, typer.Argument(help="Collection id, e.g. parcels.")]


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.add_typer(grants_app, name="grants")
    app.command("audit")(audit)


@contextmanager
def admin() -> Iterator[Any]:
    """The administrative session; domain errors become one red line and exit code 1."""
    from gis_service.auth.admin import Admin
    from gis_service.errors import GisServiceError

    session = Admin(load_settings())
    try:
        yield session
    except GisServiceError as exc:
        typer.secho(f"error: {exc.detail}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        session.close()


def table(rows: list[Any], columns: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    view = Table(*columns)
    for row in rows:
        view.add_row(*[cell(v) for v in row])
    Console().print(view)


def cell(value: Any) -> str:
    """A value as a table shows it: nothing for NULL, a list (groups, scopes) comma-separated."""
    if value is None:
        return ""
    return ", ".join(value) if isinstance(value, list) else str(value)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name (the user part of HTTP Basic).")],
    display_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    service: Annotated[bool, typer.Option("--service", help="A machine account, not a person.")] = False,
    oidc_subject: Annotated[str | None, typer.Option(help="`sub` claim of this person's OIDC tokens.")] = None,
    admin_: Annotated[bool, typer.Option("--admin", help="Global administrator.")] = False,
    group: Annotated[list[str] | None, typer.Option("--group", help="Group membership (repeatable).")] = None,
) -> None:
    """Add an account."""
    with admin() as session:
        kind = "service" if service else "user"
        session.add_user(
            name, kind=kind, display_name=display_name, oidc_subject=oidc_subject, admin=admin_, groups=group or []
        )
    typer.echo(f"[users] added {name} ({kind}{', admin' if admin_ else ''})")


@users_app.command("list")
def users_list() -> None:
    """Every account, its groups and how many active keys it has."""
    with admin() as session:
        rows = session.users()
    columns = ["id", "name", "kind", "display name", "OIDC subject", "admin", "disabled", "db role", "groups", "keys"]
    table(rows, columns)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="Account name.")]) -> None:
    """Disable an account: its keys and tokens stop working at once (and its database login, if any)."""
    with admin() as session:
        session.disable_user(name)
    typer.echo(f"[users] disabled {name}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Account the key belongs to.")],
    label: Annotated[str | None, typer.Option(help="What the key is for (e.g. QGIS on laptop 12).")] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="collection[:role] or *[:role] (repeatable); default: all.")
    ] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Days until it expires.")] = None,
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    with admin() as session:
        new = session.create_key(name, label=label, scopes=scope or [], expires_days=expires_days)
    typer.echo(new.token)
    typer.secho(
        "[keys] shown once: send it as `Authorization: Bearer …`, `X-API-Key: …`, or as the HTTP Basic password",
        err=True,
    )


@keys_app.command("list")
def keys_list(name: Annotated[str | None, typer.Argument(help="Only this account's keys.")] = None) -> None:
    """Keys (prefixes only), with scopes, expiry, last use and revocation."""
    with admin() as session:
        rows = session.keys(name)
    columns = ["prefix", "account", "label", "scopes", "created", "expires", "last used", "revoked"]
    table(rows, columns)


@keys_app.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix (gsk_…), from `keys list`.")]) -> None:
    """Revoke a key: refused from the next request on."""
    with admin() as session:
        session.revoke_key(prefix)
    typer.echo(f"[keys] revoked {prefix}")


@grants_app.command("set")
def grants_set(
    user: User,
    collection: Collection,
    role: Annotated[str, typer.Argument(help="viewer, editor, curator or layer-admin.")],
    area: Annotated[Path | None, typer.Option(help="Polygon file (any CRS): edits only inside it.")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of the area file when it does not say.")] = None,
    db_login: Annotated[
        bool, typer.Option("--db-login", help="Also a PostgreSQL login for editing PostGIS directly (QGIS).")
    ] = False,
) -> None:
    """Set exactly this grant: the role, and the edit area (without --area: the whole collection)."""
    with admin() as session:
        result = session.set_grant(user, collection, role, area=area, crs=crs, db_login=db_login)
    where = "inside its edit area" if result.area else "everywhere"
    typer.echo(f"[grants] {result.subject} is {result.role} of {result.collection} ({where})")
    if result.login is not None:
        typer.echo(f"[grants] database login {result.login.role} password {result.login.password} (shown once)")


@grants_app.command("list")
def grants_list(user: Annotated[str | None, typer.Argument(help="Only this account or group:NAME.")] = None) -> None:
    """Grants, with the size of their edit areas."""
    with admin() as session:
        rows = session.grants(user)
    table(rows, ["who", "collection", "role", "area (ha)", "set by"])


@grants_app.command("revoke")
def grants_revoke(
    user: User,
    collection: Collection,
    role: Annotated[str | None, typer.Argument(help="Only if the grant is this role.")] = None,
) -> None:
    """Remove a grant and its edit area."""
    with admin() as session:
        removed = session.revoke_grant(user, collection, role)
    typer.echo(f"[grants] {user} is no longer {', '.join(removed)} of {collection}")


def audit(limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest events shown.")] = 50) -> None:
    """Authentication failures and changes of accounts, keys and grants, newest first."""
    with admin() as session:
        rows = session.audit(limit)
    table(rows, ["at", "event", "actor", "subject", "collection", "address", "detail"])
