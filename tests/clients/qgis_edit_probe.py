"""Edit a PostGIS layer in QGIS as a person's own database login, as a planner's desktop does, and print
what QGIS reported. Runs with Debian's ``/usr/bin/python3`` (python3-qgis), ``QT_QPA_PLATFORM=offscreen``::

    /usr/bin/python3 tests/clients/qgis_edit_probe.py HOST PORT DB USER PASSWORD TABLE ID FIELD VALUE [WKT]

Sets FIELD of feature ID to VALUE (and the geometry to WKT, EPSG:4326, when given) in one edit session and
commits it, the way QGIS's own attribute table and digitizing tools do.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def edit(args: list[str]) -> dict[str, Any]:
    from qgis.core import QgsApplication, QgsDataSourceUri, QgsFeatureRequest, QgsGeometry, QgsVectorLayer

    host, port, database, user, password, table, fid, field, value, *wkt = args
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    uri = QgsDataSourceUri()
    uri.setConnection(host, port, database, user, password)
    uri.setDataSource("public", table, "geom", "", "id")
    layer = QgsVectorLayer(uri.uri(False), table, "postgres")
    report: dict[str, Any] = {"isValid": layer.isValid(), "committed": None, "errors": []}
    if layer.isValid():
        feature = next(layer.getFeatures(QgsFeatureRequest().setFilterExpression(f'"id" = {int(fid)}')), None)
        report["found"] = feature is not None
        if feature is not None:
            layer.startEditing()
            layer.changeAttributeValue(feature.id(), layer.fields().indexOf(field), value)
            if wkt:
                layer.changeGeometry(feature.id(), QgsGeometry.fromWkt(wkt[0]))
            report["committed"] = bool(layer.commitChanges())
            report["errors"] = [str(e) for e in layer.commitErrors()]
            if not report["committed"]:
                layer.rollBack()
    del layer  # before exitQgis(), else QGIS 3.22 segfaults at teardown
    app.exitQgis()
    return report


if __name__ == "__main__":
    print(json.dumps(edit(sys.argv[1:])))
