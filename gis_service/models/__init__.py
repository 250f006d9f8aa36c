"""ORM tables only. Import from here so Alembic sees the whole metadata."""

from gis_service.models.admin import AdminUnit, AdminUnitSuccession
from gis_service.models.base import SRID, Base
from gis_service.models.industry import FeatureSource, IndustrialCluster, IndustrialPark
from gis_service.models.planning import Parcel, PlanningZone
from gis_service.models.reference import LayerVersion, NameAlias, River
from gis_service.models.transport import KINDS, TransportProject

#: Tables whose writes bump ``layer_versions``.
VERSIONED_TABLES = (
    "admin_units",
    "industrial_parks",
    "industrial_clusters",
    "transport_projects",
    "planning_zones",
    "parcels",
    "rivers",
)

__all__ = [
    "KINDS",
    "SRID",
    "VERSIONED_TABLES",
    "AdminUnit",
    "AdminUnitSuccession",
    "Base",
    "FeatureSource",
    "IndustrialCluster",
    "IndustrialPark",
    "LayerVersion",
    "NameAlias",
    "Parcel",
    "PlanningZone",
    "River",
    "TransportProject",
]
