"""Statements about the WAL: where the primary is, and whether a standby has replayed up to a point."""

from __future__ import annotations

from sqlalchemy import TextClause, text


def wal_position() -> TextClause:
    """The primary's current WAL position, as text (``16/B374D848``); run after a commit, it is at or past it."""
    return text("SELECT pg_current_wal_lsn()::text")


def replayed(lsn: str | None) -> TextClause:
    """True when this server has replayed the WAL up to ``lsn`` (a primary has nothing to replay: true).
    The position travels as text: asyncpg would encode a ``pg_lsn`` parameter as an integer."""
    if lsn is None:
        return text("SELECT true")
    return text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(CAST(:lsn AS text) AS pg_lsn), true)").bindparams(
        lsn=lsn
    )
