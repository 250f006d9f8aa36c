#!/usr/bin/env bash
# Debian packages that the GIS-client, cache and browser tests drive: GDAL/OGR, QGIS (headless), Chromium,
# Redis (the shared tile cache), PgBouncer and nginx (the scale-out topology), fonts for the map labels' glyphs.
# Installed with apt when running as root and missing; otherwise the tests name what to install.
# `run`: what serving needs (npm to vendor Leaflet, a font for label glyphs); `test`: everything.
set -euo pipefail
mode=${1:-test}
need=()
command -v npm >/dev/null || need+=(npm)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ "$mode" = test ]; then
command -v ogrinfo >/dev/null || need+=(gdal-bin)
[ -x /usr/lib/chromium/chromium-headless-shell ] || [ -x /usr/bin/chromium ] || need+=(chromium-headless-shell)
python3 -c 'import qgis.core' 2>/dev/null || /usr/bin/python3 -c 'import qgis.core' 2>/dev/null || need+=(python3-qgis qgis-providers)
command -v redis-server >/dev/null || need+=(redis-server)
# the scale-out topology (`gis-service cluster up`, tests/cluster): a pooler and an HTTP cache
[ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "[system] missing: ${need[*]} (install them with apt-get as root); client tests will fail without them" >&2
  exit 0
fi
echo "[system] installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
}
