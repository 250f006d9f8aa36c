"""The path of one feature, shared by the routers that serve it (read, changed, asked for its methods).

A feature id may hold ``/`` (sent as ``%2F``, which arrives decoded), so it is matched up to the end of the
path; but ``…/items/{id}/history`` and ``…/items/{id}/revert`` are sub-resources of the feature, never a
feature of that id: a GET, PUT or OPTIONS there is answered for the sub-resource (405 with its ``Allow``).
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

SUB_RESOURCES = ("history", "revert")


class FeatureIdConvertor(Convertor[str]):
    regex = f"(?:[^/]|/(?!(?:{'|'.join(SUB_RESOURCES)})$))+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("feature_id", FeatureIdConvertor())
ITEMS = "/collections/{collectionId}/items"
ITEM = ITEMS + "/{featureId:feature_id}"
#: The sub-resources take every id, ``/`` included (the id ends where the path's last segment begins).
HISTORY = ITEMS + "/{featureId:path}/history"
REVERT = ITEMS + "/{featureId:path}/revert"
