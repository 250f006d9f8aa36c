"""Folium elements of our own. None of them carries data: their scripts are constant calls into
``GisMaps`` (static/maps.js), which reads the page's data from a JSON block.

Why: branca renders every macro of a folium element and then compiles the OUTPUT as a new Jinja2 template
(``Element(script(this, kwargs))`` in ``MacroElement.render``). A feature name such as ``{{ 7*7 }}`` inside
any folium element (``GeoJson`` data, a layer name, a popup, an ``Html``) is therefore evaluated on the
server. So data never enters a folium element; it enters the page only as :class:`Body` text (escaped
HTML or a JSON block), which is written as it is, never compiled. :func:`check_constant` refuses a map
that holds any other element.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from branca.element import Element, Figure, MacroElement
from folium import Map
from folium.elements import JSCSSMixin
from folium.plugins import Fullscreen, MiniMap
from folium.template import Template

MINIMAP_LOOK = {"color": "#7b7d7d", "weight": 1, "fillColor": "#f4f1ea", "fillOpacity": 1}


class Literal(Element):
    """Text written into the page as it is: not a template, so ``{{`` in it stays ``{{``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "GisLiteral"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class Body(Element):
    """A block of the page body made on the server: HTML whose values went through ``html.esc``, or a
    ``html.json_block``. Placed after the map's ``<div>``, before the page script runs."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "GisBody"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        figure = self.get_root()
        assert isinstance(figure, Figure), "a Body renders inside a Figure"
        figure.html.add_child(Literal(self.text), name=self.get_name())
        return ""


class Panes(MacroElement):
    """Our map panes (z order of the layers); added first so every layer finds its pane."""

    _template = Template("{% macro script(this, kwargs) %}GisMaps.panes({{ this._parent.get_name() }});{% endmacro %}")

    def __init__(self) -> None:
        super().__init__()
        self._name = "GisPanes"


class Measure(MacroElement):
    """Distances and areas on the ellipsoid (``GisMaps.Measure``): leaflet-measure needs 'unsafe-eval'."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "new GisMaps.Measure({position: 'topleft'}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "GisMeasure"


class Init(MacroElement):
    """``GisMaps.init(map)``: the layers, layer control, panels, time control, search and tile popups, all
    from the JSON block ``<map id>-data`` (:func:`gis_service.maps.build.page_data`)."""

    _template = Template("{% macro script(this, kwargs) %}GisMaps.init({{ this._parent.get_name() }});{% endmacro %}")

    def __init__(self) -> None:
        super().__init__()
        self._name = "GisInit"


class OfflineMiniMap(MiniMap):
    """The minimap plugin over an outline of our own districts (from the page data): no tile request leaves
    the service."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "GisMaps.miniMap({{ this._parent.get_name() }}, {{ this.options|tojavascript }});"
        "{% endmacro %}"
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._name = "GisMiniMap"


class VectorTiles(JSCSSMixin, MacroElement):
    """Loads Leaflet.VectorGrid (our vendored copy, see ``assets.ELEMENT_PACKAGES``) for the vector-tile
    layers ``GisMaps`` draws; no script of its own."""

    _template = Template("")

    def __init__(self) -> None:
        super().__init__()
        self._name = "GisVectorTiles"


#: The only elements a map of ours may hold: each renders constant code or literal text.
CONSTANT_ELEMENTS = (Map, Panes, Measure, Init, OfflineMiniMap, VectorTiles, Fullscreen, Body, Literal)


def walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from walk(child)


def check_constant(root: Map) -> None:
    """Refuse a map with an element that could carry data into a template (a folium layer, popup, ...):
    draw it through a layer description of :mod:`gis_service.maps.layers` instead."""
    for element in walk(root):
        if type(element) not in CONSTANT_ELEMENTS:
            raise ValueError(
                f"{type(element).__name__} on a map: data must reach the page through the JSON block "
                "(gis_service.maps.layers), never a folium element"
            )
