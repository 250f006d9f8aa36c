"""Open one OGC API Features collection in QGIS with HTTP Basic credentials and print what QGIS sees.

Runs with Debian's ``/usr/bin/python3`` (python3-qgis) and ``QT_QPA_PLATFORM=offscreen``, like
``qgis_probe.py``, whose report it shares::

    /usr/bin/python3 tests/clients/qgis_access_probe.py [--user NAME --password KEY] BASE COLLECTION

The credentials go where QGIS 3.22's connection dialog puts them (the data source's user name and
password), so QGIS sends them as ``Authorization: Basic`` on every request, as it does for a real user.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qgis_probe import describe

#: An invalid layer, described without ``layer.error()``: QGIS 3.22 crashes reading the error of a layer
#: whose first request was refused (401, 403, 404).
REFUSED = {"isValid": False, "featureCount": None, "fetched": None, "wkbType": None, "error": "refused"}


def probe(base: str, collection: str, user: str | None, password: str | None) -> dict[str, Any]:
    from qgis.core import Qgis, QgsApplication, QgsDataSourceUri, QgsVectorLayer

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    uri = QgsDataSourceUri()
    uri.setParam("url", base)
    uri.setParam("typename", collection)
    if user is not None:
        uri.setUsername(user)
        uri.setPassword(password or "")
    layers = {collection: QgsVectorLayer(str(uri.uri(False)), collection, "OAPIF")}
    report = {cid: describe(layer) if layer.isValid() else REFUSED for cid, layer in layers.items()}
    layers.clear()  # before exitQgis(), else QGIS 3.22 segfaults at teardown
    app.exitQgis()
    return {"qgis": Qgis.QGIS_VERSION, "layers": report}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default=None)
    parser.add_argument("--password", default=None)
    parser.add_argument("base")
    parser.add_argument("collection")
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.base, args.collection, args.user, args.password)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
