"""ORM tables only. Import from here so Alembic sees the whole metadata."""

from gis_service.models.access import ApiKey, AuditEvent, EditArea, Grant, Principal, PrincipalGroup
from gis_service.models.admin import AdminUnit, AdminUnitSuccession
from gis_service.models.base import GEOMETRY_QUALITIES, SRID, Base
from gis_service.models.history import EDITABLE_TABLES, HISTORY_MODELS, ChangeSet, Versioned
from gis_service.models.industry import LOCATION_CONFIDENCES, FeatureSource, IndustrialCluster, IndustrialPark
from gis_service.models.planning import Parcel, PlanningZone
from gis_service.models.proposals import PROPOSAL_STATUSES, Proposal
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
    "EDITABLE_TABLES",
    "GEOMETRY_QUALITIES",
    "HISTORY_MODELS",
    "KINDS",
    "LOCATION_CONFIDENCES",
    "PROPOSAL_STATUSES",
    "SRID",
    "VERSIONED_TABLES",
    "AdminUnit",
    "AdminUnitSuccession",
    "ApiKey",
    "AuditEvent",
    "Base",
    "ChangeSet",
    "EditArea",
    "FeatureSource",
    "Grant",
    "IndustrialCluster",
    "IndustrialPark",
    "LayerVersion",
    "NameAlias",
    "Parcel",
    "PlanningZone",
    "Principal",
    "PrincipalGroup",
    "Proposal",
    "River",
    "TransportProject",
    "Versioned",
]
