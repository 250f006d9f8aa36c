"""Leaflet, its plugins and our own shim, pinned and served from our origin, never from a CDN.

Folium 0.20 loads Leaflet, jQuery, Bootstrap, Font Awesome and its plugins from six CDN hosts (and
``VectorGridProtobuf`` from an unpinned ``@latest``). Closed government networks reach none of them, so every
folium element on our maps gets its ``default_js``/``default_css`` replaced by files of the pinned npm
packages below, copied into ``gis_service/static/vendor/`` at install time (``python -m
gis_service.maps.vendor``). A map that still names an asset we do not vendor fails to build.
"""

from __future__ import annotations

import base64
import mimetypes
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from branca.element import Figure
from folium import Map
from folium.elements import JSCSSMixin
from folium.plugins import Fullscreen, MiniMap, VectorGridProtobuf

from gis_service.errors import GisServiceError
from gis_service.maps.controls import Literal, VectorTiles, walk

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
VENDOR = "vendor"
#: Our own small files next to the vendored folder.
OWN_JS = ("maps.js",)
OWN_CSS = ("maps.css",)


class AssetsMissing(GisServiceError):
    status = 503
    title = "Map assets missing"


@dataclass(frozen=True)
class Package:
    """One pinned npm package: the tarball's integrity, and which of its files we ship."""

    name: str
    version: str
    integrity: str
    license: str
    #: Folder inside the tarball that destination paths are relative to.
    root: str
    #: Files or folders (relative to ``package/``) copied into ``vendor/<name>@<version>/``.
    files: tuple[str, ...]
    js: tuple[str, ...] = ()
    css: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def destination(self, path: str) -> str:
        prefix = self.root + "/"
        return path[len(prefix) :] if path.startswith(prefix) else Path(path).name


LEAFLET = Package(
    "leaflet",
    "1.9.4",
    "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
    "BSD-2-Clause",
    "dist",
    ("dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"),
    js=("leaflet.js",),
    css=("leaflet.css",),
)
FULLSCREEN = Package(
    "leaflet.fullscreen",
    "3.0.0",
    "sha512-81wWSUXz1ZtdneR0v5eJDWXUSx+Zo5J50WXWeydG/UcILfIEAgz/iOjZSi3p00Z9MJ/FC/P5i3CgdYuEAos0yQ==",
    "MIT",
    "",
    ("Control.FullScreen.js", "Control.FullScreen.css", "icon-fullscreen.svg", "LICENSE"),
    js=("Control.FullScreen.js",),
    css=("Control.FullScreen.css",),
)
MINIMAP = Package(
    "leaflet-minimap",
    "3.6.1",
    "sha512-6px8f6cfv1rKB6ACpL6bbUFGxipZOq4KsntJgBj9nOcW1RYa5+xFp8emOZwks9X+VtVVsQEwWwfgT1kTTL/LzA==",
    "BSD-2-Clause",
    "dist",
    ("dist/Control.MiniMap.min.js", "dist/Control.MiniMap.min.css", "dist/images", "LICENSE.txt"),
    js=("Control.MiniMap.min.js",),
    css=("Control.MiniMap.min.css",),
)
#: Folium asks for ``leaflet.vectorgrid@latest``; 1.3.0 is the newest release, pinned.
VECTORGRID = Package(
    "leaflet.vectorgrid",
    "1.3.0",
    "sha512-kWmj1pKM+MVdo/7Mg5zsB3YrGZvo/uIuiANV9MvWUFOG+Y2xAJzrteDhoIcCgTjHSSRJ36xdeGdIQVhuWjnCZw==",
    "Beerware",
    "dist",
    ("dist/Leaflet.VectorGrid.bundled.min.js",),
    js=("Leaflet.VectorGrid.bundled.min.js",),
)
#: Not leaflet-measure (folium's ``MeasureControl``): 2.1.7 and 3.1.0 both compile their templates with
#: ``Function()`` when they load, which our Content-Security-Policy (no 'unsafe-eval') refuses. The
#: measure tool is ``GisMaps.Measure`` in static/maps.js; a ``MeasureControl`` on our maps fails to build.
PACKAGES = (LEAFLET, FULLSCREEN, MINIMAP, VECTORGRID)
#: Folium element class -> the packages that replace its CDN defaults (Leaflet comes with the map).
ELEMENT_PACKAGES: dict[type, tuple[Package, ...]] = {
    Map: (LEAFLET,),
    Fullscreen: (FULLSCREEN,),
    MiniMap: (MINIMAP,),
    VectorGridProtobuf: (VECTORGRID,),
    VectorTiles: (VECTORGRID,),
}
CSS_URL = re.compile(r"""url\((['"]?)([^'")]+)\1\)""")


@dataclass(frozen=True)
class Assets:
    """Where a page finds its scripts and styles: under a URL prefix (``/static`` when served, a folder
    next to an exported file) or inlined into the page (notebooks, single-file exports)."""

    prefix: str = "/static"
    inline: bool = False
    static_dir: Path = STATIC_DIR

    @classmethod
    def served(cls, root_path: str = "") -> Assets:
        return cls(prefix=f"{root_path.rstrip('/')}/static")

    @classmethod
    def relative(cls, folder: str = "assets") -> Assets:
        return cls(prefix=folder.rstrip("/"))

    @classmethod
    def embedded(cls) -> Assets:
        return cls(prefix="", inline=True)

    def path(self, package: Package | None, file: str) -> Path:
        return self.static_dir / (f"{VENDOR}/{package.spec}/{file}" if package else file)

    def url(self, package: Package | None, file: str) -> str:
        return f"{self.prefix}/{VENDOR}/{package.spec}/{file}" if package else f"{self.prefix}/{file}"

    def missing(self) -> list[str]:
        wanted = [self.path(p, f) for p in PACKAGES for f in (*p.js, *p.css)]
        wanted += [self.path(None, f) for f in (*OWN_JS, *OWN_CSS)]
        return [str(p.relative_to(self.static_dir)) for p in wanted if not p.is_file()]

    def check(self) -> None:
        missing = self.missing()
        if missing:
            raise AssetsMissing(
                f"the map scripts are not installed ({', '.join(missing[:3])} ...): "
                "run `python -m gis_service.maps.vendor` (make run does it)"
            )

    def attach(self, root: Map) -> None:
        """Point every folium element of ``root`` at our files; refuse any element we do not vendor."""
        used: list[Package] = []
        for element in walk(root):
            if not isinstance(element, JSCSSMixin):
                continue
            packages = next((ELEMENT_PACKAGES[c] for c in type(element).__mro__ if c in ELEMENT_PACKAGES), None)
            if packages is None:
                if element.default_js or element.default_css:
                    raise ValueError(f"{type(element).__name__} loads assets we do not vendor")
                continue
            used += [p for p in packages if p not in used]
            js = [(f"{p.name}/{f}", self.url(p, f)) for p in packages for f in p.js]
            css = [(f"{p.name}/{f}", self.url(p, f)) for p in packages for f in p.css]
            if isinstance(element, Map):
                js += [(f"gis/{f}", self.url(None, f)) for f in OWN_JS]
                css += [(f"gis/{f}", self.url(None, f)) for f in OWN_CSS]
            element.default_js, element.default_css = ([], []) if self.inline else (js, css)
        if self.inline:
            figure = root.get_root()
            assert isinstance(figure, Figure)
            figure.header.add_child(Literal(self.inline_html(used)), name="gis_inline_assets")

    def inline_html(self, packages: list[Package]) -> str:
        self.check()
        parts = []
        for package in packages:
            parts += [f"<style>{inline_css(self.path(package, f))}</style>" for f in package.css]
            parts += [f"<script>{script_text(self.path(package, f))}</script>" for f in package.js]
        parts += [f"<style>{inline_css(self.path(None, f))}</style>" for f in OWN_CSS]
        parts += [f"<script>{script_text(self.path(None, f))}</script>" for f in OWN_JS]
        return "\n".join(parts)

    def copy_to(self, folder: Path) -> None:
        """The vendored and own files under ``folder`` (an export's ``assets/``), as the page links them."""
        self.check()
        for package in PACKAGES:
            shutil.copytree(self.static_dir / VENDOR / package.spec, folder / VENDOR / package.spec, dirs_exist_ok=True)
        for name in (*OWN_JS, *OWN_CSS):
            shutil.copy2(self.static_dir / name, folder / name)


def script_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if "</script" in text.lower():
        raise ValueError(f"{path.name} cannot be inlined: it contains a closing script tag")
    return text


def inline_css(path: Path) -> str:
    """The stylesheet with its relative ``url(...)`` images turned into data: URIs."""

    def data_uri(match: re.Match[str]) -> str:
        target = match.group(2)
        if target.startswith(("data:", "#", "http:", "https:")):
            return match.group(0)
        image = (path.parent / target).resolve()
        if not image.is_file() or path.parent.resolve() not in image.parents:
            return "none"
        mime = mimetypes.guess_type(image.name)[0] or "application/octet-stream"
        return f"url(data:{mime};base64,{base64.b64encode(image.read_bytes()).decode()})"

    return CSS_URL.sub(data_uri, path.read_text(encoding="utf-8")).replace("</", "<\\/")
