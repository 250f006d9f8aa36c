"""Open OGC API Features collections as QGIS OAPIF layers and print what QGIS sees, as one JSON line.

Runs with Debian's ``/usr/bin/python3`` (python3-qgis lives there, not in the project's venv) and
``QT_QPA_PLATFORM=offscreen``::

    /usr/bin/python3 tests/clients/qgis_probe.py [--page-size N] http://127.0.0.1:8000 industrial_parks ...

Prints ``{"qgis": version, "layers": {id: {"isValid", "featureCount", "fetched", "wkbType", "error"}}}``:
``featureCount`` is what QGIS reports (from ``numberMatched``), ``fetched`` the features it iterates
(through every page), ``wkbType`` the layer's geometry type (``Point``, ``NoGeometry``...).
``--page-size`` sets the provider's ``pageSize`` so that ``next`` links are followed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def layer_uri(base: str, collection_id: str, page_size: int | None) -> str:
    from qgis.core import QgsDataSourceUri

    uri = QgsDataSourceUri()
    uri.setParam("url", base)
    uri.setParam("typename", collection_id)
    if page_size is not None:
        uri.setParam("pageSize", str(page_size))
    return str(uri.uri(False))


def describe(layer: Any) -> dict[str, Any]:
    from qgis.core import QgsFeatureRequest, QgsWkbTypes

    if not layer.isValid():
        return {
            "isValid": False,
            "featureCount": None,
            "fetched": None,
            "wkbType": None,
            "error": layer.error().summary(),
        }
    request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)
    return {
        "isValid": True,
        "featureCount": int(layer.featureCount()),
        "fetched": sum(1 for _ in layer.getFeatures(request)),
        "wkbType": QgsWkbTypes.displayString(layer.wkbType()),
        "error": "",
    }


def probe(base: str, collection_ids: list[str], page_size: int | None) -> dict[str, Any]:
    from qgis.core import Qgis, QgsApplication, QgsVectorLayer

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    layers = {cid: QgsVectorLayer(layer_uri(base, cid, page_size), cid, "OAPIF") for cid in collection_ids}
    report = {cid: describe(layer) for cid, layer in layers.items()}
    # Layers must be gone before exitQgis(), else QGIS 3.22 segfaults at teardown.
    layers.clear()
    app.exitQgis()
    return {"qgis": Qgis.QGIS_VERSION, "layers": report}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page-size", type=int, default=None, help="QGIS OAPIF provider pageSize")
    parser.add_argument("base", help="landing page URL of the OGC API")
    parser.add_argument("collections", nargs="+", help="collection ids")
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.base, args.collections, args.page_size)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
