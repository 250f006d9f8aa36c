"""Folium elements of our own: server-rendered panels, the call that wires the page's behaviour
(``GisMaps.init`` in static/maps.js) and a minimap drawn from our layers instead of remote tiles."""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.plugins import MiniMap
from folium.template import Template


class Html(MacroElement):
    """A fragment of HTML in the page body (already escaped by its builder)."""

    _template = Template("{% macro html(this, kwargs) %}{{ this.fragment }}{% endmacro %}")

    def __init__(self, fragment: str) -> None:
        super().__init__()
        self._name = "GisHtml"
        self.fragment = fragment


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
    """``GisMaps.init(map, config, layers)``: panels, time control, search, admin switch, tile popups.

    ``config`` is plain JSON; ``layers`` maps a role (``state:industrial_parks``, ``admin:legacy``,
    ``search:...``, ``tiles:parcels``) to a folium layer, rendered as its JavaScript variable.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        GisMaps.init({{ this._parent.get_name() }}, {{ this.config|tojson }}, {
            {%- for role, layer in this.layers.items() %}
            {{ role|tojson }}: {{ layer.get_name() }},
            {%- endfor %}
        });
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, Any], layers: dict[str, Any]) -> None:
        super().__init__()
        self._name = "GisInit"
        self.config = config
        self.layers = layers


class OfflineMiniMap(MiniMap):
    """The minimap plugin over an outline of our own districts: no tile request leaves the service."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_layer = L.geoJson({{ this.outline|tojson }}, {
                style: {{ this.look|tojson }}, interactive: false
            });
            var {{ this.get_name() }} = new L.Control.MiniMap(
                {{ this.get_name() }}_layer, {{ this.options|tojavascript }}
            );
            {{ this._parent.get_name() }}.addControl({{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, outline: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._name = "GisMiniMap"
        self.outline = outline
        self.look = {"color": "#7b7d7d", "weight": 1, "fillColor": "#f4f1ea", "fillOpacity": 1}
