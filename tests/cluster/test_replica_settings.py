"""Replica settings and WAL positions, without a topology: what is accepted, what is refused, and that an
app without replicas is the app it was."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from gis_service import replicas
from gis_service.errors import InvalidParameter
from gis_service.main import create_app
from gis_service.settings import load_settings


def request(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw, "query_string": b""})


def test_replica_urls_as_json_or_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    urls = ["postgresql://u@10.0.0.2:5432/gis", "postgresql://u@10.0.0.3:5432/gis"]
    monkeypatch.setenv("GIS_DB__REPLICA_URLS", ",".join(urls))
    assert load_settings().db.replica_urls == urls
    monkeypatch.setenv("GIS_DB__REPLICA_URLS", '["postgresql://u@10.0.0.2:5432/gis"]')
    settings = load_settings(db={"app_role": "gis_app", "app_password": "pw", "replica_urls": urls[:1]})
    assert settings.replica_request_urls == ["postgresql+asyncpg://gis_app:pw@10.0.0.2:5432/gis"]
    monkeypatch.setenv("GIS_DB__REPLICA_URLS", "http://10.0.0.2/gis")
    with pytest.raises(ValidationError, match="postgresql://"):
        load_settings()


def test_the_pooler_setting_is_checked() -> None:
    with pytest.raises(ValidationError, match="pooler"):
        load_settings(db={"pooler": "pgpool"})


def test_wal_position_from_the_header_or_the_cookie() -> None:
    assert replicas.wal_position(request({"X-WAL-LSN": "16/B374D848"})) == "16/B374D848"
    assert replicas.wal_position(request({"Cookie": "gis_wal_lsn=0-5001B68"})) == "0/5001B68"
    assert replicas.wal_position(request({"Cookie": "gis_wal_lsn=garbage"})) is None  # browsers send it unasked
    assert replicas.wal_position(request({})) is None
    with pytest.raises(InvalidParameter, match="X-WAL-LSN"):
        replicas.wal_position(request({"X-WAL-LSN": "16/B374D848'; select"}))


def test_without_replicas_no_retry_layer_is_installed() -> None:
    plain = create_app(load_settings(db={"replica_urls": []}))
    assert replicas.PrimaryRetry not in [m.cls for m in plain.user_middleware]
    scaled = create_app(load_settings(db={"replica_urls": ["postgresql://u@127.0.0.1:1/gis"]}))
    assert replicas.PrimaryRetry in [m.cls for m in scaled.user_middleware]
