"""Fill ``gis_service/static/vendor/`` from npm with the pinned packages: Leaflet and its plugins
(:mod:`gis_service.maps.assets`), Swagger UI (``/api.html``) and Leaflet-Geoman (``/edit``).

Run at install time (``make run`` / ``make test``)::

    python -m gis_service.maps.vendor            # skip packages already there
    python -m gis_service.maps.vendor --force    # fetch again

Each package is fetched with ``npm pack name@version`` into a temporary folder, its tarball checked against
the pinned sha512 integrity (npm's ``dist.integrity``), and only the listed dist files copied, with the
licence recorded in ``VENDOR.json``. The folder is gitignored; the service, the exported maps and the API page
read their scripts from it, so no page ever asks a CDN.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from gis_service.maps.assets import PACKAGES, STATIC_DIR, VENDOR, Package

MANIFEST = "VENDOR.json"
NPM_TIMEOUT_S = 120
#: Swagger UI of ``/api.html`` (FastAPI's default page loads it from a CDN when the page opens). The bundle
#: carries its presets; the init script is our ``static/api-docs.js``.
SWAGGER_UI = Package(
    "swagger-ui-dist",
    "5.35.0",
    "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
    "Apache-2.0",
    "",
    (
        "swagger-ui-bundle.js",
        "swagger-ui-bundle.js.LICENSE.txt",
        "swagger-ui.css",
        "favicon-32x32.png",
        "LICENSE",
        "NOTICE",
    ),
    js=("swagger-ui-bundle.js",),
    css=("swagger-ui.css",),
)
#: Drawing and vertex editing of the planner's editor (``/edit``); its stylesheet draws the toolbar icons from
#: data: URIs, which the editor's policy allows for images only.
GEOMAN = Package(
    "@geoman-io/leaflet-geoman-free",
    "2.20.2",
    "sha512-KQpSe0VKyuVCudq/08rMjJW1vvIwFldTwBny2wZ7ABcyyUAP7/eoFo967hCu9yRqAAHb4QOxC6gY5dGqttY68g==",
    "MIT",
    "dist",
    ("dist/leaflet-geoman.min.js", "dist/leaflet-geoman.css", "LICENSE"),
    js=("leaflet-geoman.min.js",),
    css=("leaflet-geoman.css",),
)
#: Everything ``vendor`` installs.
ALL_PACKAGES = (*PACKAGES, SWAGGER_UI, GEOMAN)


class VendorError(RuntimeError):
    pass


def integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def npm_pack(package: Package, workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("npm is not installed: `apt-get install -y npm` (Debian) and run again")
    try:
        done = subprocess.run(
            [npm, "pack", package.spec, "--silent", "--pack-destination", str(workdir)],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise VendorError(f"npm pack {package.spec} took longer than {NPM_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise VendorError(f"npm pack {package.spec} failed: {done.stderr.strip()[-500:]}")
    tarballs = sorted(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        raise VendorError(f"npm pack {package.spec} left {len(tarballs)} tarballs")
    return tarballs[0]


def unpack(package: Package, tarball: Path, target: Path) -> None:
    found = integrity(tarball)
    if found != package.integrity:
        raise VendorError(f"{package.spec}: tarball integrity {found} is not the pinned {package.integrity}")
    extracted = tarball.parent / "x"
    with tarfile.open(tarball) as archive:
        archive.extractall(extracted, filter="data")
    root = extracted / "package"
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for name in package.files:
        source = root / name
        destination = staging / package.destination(name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination)
        elif source.is_file():
            shutil.copy2(source, destination)
        else:
            raise VendorError(f"{package.spec} has no {name}")
    record = {"name": package.name, "version": package.version, "integrity": found, "license": package.license}
    (staging / MANIFEST).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def installed(package: Package, vendor_dir: Path) -> bool:
    manifest = vendor_dir / package.spec / MANIFEST
    if not manifest.is_file():
        return False
    return bool(json.loads(manifest.read_text(encoding="utf-8")).get("integrity") == package.integrity)


def vendor(vendor_dir: Path = STATIC_DIR / VENDOR, *, force: bool = False) -> list[str]:
    """Fetch every missing pinned package; returns one line per package."""
    vendor_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for package in ALL_PACKAGES:
        if not force and installed(package, vendor_dir):
            lines.append(f"[vendor] {package.spec}: present")
            continue
        with tempfile.TemporaryDirectory(prefix="gis-vendor-") as tmp:
            unpack(package, npm_pack(package, Path(tmp)), vendor_dir / package.spec)
        lines.append(f"[vendor] {package.spec}: installed ({package.license})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Vendor Leaflet, its plugins and Swagger UI from npm (pinned).")
    parser.add_argument("--force", action="store_true", help="fetch again even when present")
    parser.add_argument("--dir", type=Path, default=STATIC_DIR / VENDOR, help="target folder")
    args = parser.parse_args(argv)
    try:
        for line in vendor(args.dir, force=args.force):
            print(line)
    except VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - CLI entry
    sys.exit(main())
