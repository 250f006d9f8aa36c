/* Behaviour of the planning maps built by gis_service.maps (folium + Leaflet): the layers, the layer
 * control, panels, the time control, search, the switch between unit sets and popups of vector-tile features.
 *
 * Everything that depends on data comes from the page's JSON block (<map id>-data), never from script
 * text. HTML this file hands to Leaflet was escaped on the server: layer names and attributions (the
 * fields ending in Html) and each feature's popup, tooltip and label. Other strings are text and are only
 * ever set as textContent; vector-tile attributes go through GisMaps.esc. No eval. */
(function () {
  "use strict";
  var G = (window.GisMaps = window.GisMaps || {});
  G.maps = G.maps || [];

  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  /* Z order of our layers: basemap < parcels < units < choropleth < zones < transport < parks. */
  var PANES = {
    "gis-base": 210, "gis-parcels": 320, "gis-admin": 340, "gis-choropleth": 350,
    "gis-zones": 360, "gis-transport": 420, "gis-estates": 440
  };

  G.esc = function (value) {
    var text = value === null || value === undefined ? "" : String(value);
    return text.replace(/[&<>"']/g, function (c) { return ENTITIES[c]; });
  };

  /* Lower-case ASCII fold of Vietnamese text: "Sóng Thần" -> "song than", "Đ" -> "d". */
  G.fold = function (text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[đĐ]/g, "d").toLowerCase().replace(/\s+/g, " ").trim();
  };

  /* The page data of a map, parsed once from its JSON block. */
  G.data = function (map) {
    if (!map._gisData) {
      var block = document.getElementById(map.getContainer().id + "-data");
      map._gisData = JSON.parse(block ? block.textContent : "{}");
    }
    return map._gisData;
  };

  G.panes = function (map) {
    Object.keys(PANES).forEach(function (name) {
      if (!map.getPane(name)) { map.createPane(name).style.zIndex = String(PANES[name]); }
    });
  };

  /* onEachFeature of every GeoJSON layer: the server-made popup, tooltip or permanent label. */
  G.bindFeature = function (feature, layer) {
    var p = feature.properties || {};
    if (p.popup) { layer.bindPopup(p.popup, { maxWidth: 380, minWidth: 220, autoPanPadding: [30, 30] }); }
    if (p.label) {
      layer.bindTooltip(p.label, { permanent: true, direction: "center", className: "gis-label" });
    } else if (p.tooltip) {
      layer.bindTooltip(p.tooltip, { sticky: true, className: "gis-tooltip" });
    }
  };

  /* A Leaflet layer from its description (gis_service.maps.layers). */
  G.makeLayer = function (d) {
    if (d.kind === "group") { return L.layerGroup((d.layers || []).map(G.makeLayer)); }
    if (d.kind === "xyz") {
      return L.tileLayer(d.url, Object.assign({}, d.options, { attribution: d.attributionHtml || "" }));
    }
    if (d.kind === "vectortiles") {
      var styles = {};
      styles[d.layer] = G.parcelStyle;
      return L.vectorGrid.protobuf(d.url, Object.assign({
        vectorTileLayerStyles: styles, interactive: true, getFeatureId: G.tileFeatureId,
        attribution: d.attributionHtml || ""
      }, d.options));
    }
    var interactive = d.interactive !== false;
    return L.geoJSON(d.data, {
      pane: d.pane,
      smoothFactor: d.smoothFactor,
      interactive: interactive,
      style: function (feature) { return (feature.properties || {}).style; },
      pointToLayer: d.points ? function (feature, latlng) {
        var look = (feature.properties || {}).style;
        return L.circleMarker(latlng, Object.assign({ radius: 6, weight: 2, fill: true, pane: d.pane }, look));
      } : undefined,
      onEachFeature: interactive ? G.bindFeature : undefined
    });
  };

  /* Every described layer, on the map when it is shown, and the layer control listing them. */
  function addLayers(map, cfg) {
    var layers = {}, control = L.control.layers(null, null, { position: "topright", collapsed: false });
    (cfg.layers || []).forEach(function (d) {
      var layer = G.makeLayer(d);
      layers[d.role] = layer;
      if (d.base) { control.addBaseLayer(layer, d.nameHtml); } else { control.addOverlay(layer, d.nameHtml); }
      if (d.show) { layer.addTo(map); }
    });
    control.addTo(map);
    return layers;
  }

  /* The minimap over our own district outlines (no tile request leaves the service). */
  G.miniMap = function (map, options) {
    var mini = G.data(map).minimap || { data: { type: "FeatureCollection", features: [] } };
    var outline = L.geoJSON(mini.data, { style: mini.style, interactive: false });
    return map.addControl(new L.Control.MiniMap(outline, options));
  };

  G.landUse = {};
  G.parcelStyle = function (props) {
    var color = G.landUse[props.land_use_code] || G.otherColor || "#95a5a6";
    return { weight: 0.6, color: "#555555", opacity: 0.8, fill: true, fillColor: color, fillOpacity: 0.45 };
  };
  G.tileFeatureId = function (feature) { return feature.id; };

  function panel(map, id, position) {
    var el = id && document.getElementById(id);
    if (!el) { return null; }
    var Panel = L.Control.extend({
      options: { position: position },
      onAdd: function () {
        el.hidden = false;
        L.DomEvent.disableClickPropagation(el);
        L.DomEvent.disableScrollPropagation(el);
        return el;
      }
    });
    return new Panel().addTo(map);
  }

  function Timeline(map, cfg, layers) {
    this.map = map;
    this.cfg = cfg;
    this.layers = layers;
    this.year = cfg.year;
    this.groups = cfg.stateLayers.map(function (role) {
      return { group: layers[role], members: layers[role].getLayers() };
    });
  }

  Timeline.prototype.setYear = function (year) {
    var key = String(year), styles = this.cfg.stateStyles, shown = 0;
    this.year = year;
    this.groups.forEach(function (g) {
      g.members.forEach(function (member) {
        var p = member.feature.properties, state = (p.states || {})[key];
        var look = state === undefined ? {} : styles[state];
        member.gisState = state;
        if (look === null) {
          if (member.isPopupOpen && member.isPopupOpen()) { member.closePopup(); }
          g.group.removeLayer(member);
          return;
        }
        if (!g.group.hasLayer(member)) { g.group.addLayer(member); }
        /* p.pinned: what no state changes (a schematic line stays dash-dotted). */
        if (member.setStyle) { member.setStyle(Object.assign({}, p.style, look, p.pinned)); }
        shown += 1;
      });
    });
    this.switchUnits(year);
    this.updateNotes(key);
    var out = this.cfg.time && document.getElementById(this.cfg.time + "-out");
    if (out) { out.textContent = key; }
    this.map.fire("gis:year", { year: year, shown: shown });
    return shown;
  };

  /* Show the administrative units in force in the year (unless the user turned both sets off). */
  Timeline.prototype.switchUnits = function (year) {
    var admin = this.cfg.admin, map = this.map;
    if (!admin) { return; }
    var legacy = this.layers[admin.legacy], reform = this.layers[admin.reform];
    var first = this.unitsSwitched === undefined;
    if (!first && !map.hasLayer(legacy) && !map.hasLayer(reform)) { return; }
    var want = year >= this.cfg.reformYear ? reform : legacy, other = want === reform ? legacy : reform;
    if (map.hasLayer(other)) { map.removeLayer(other); }
    if (!map.hasLayer(want)) { map.addLayer(want); }
    this.unitsSwitched = true;
  };

  Timeline.prototype.updateNotes = function (key) {
    var legend = document.getElementById(this.cfg.legend);
    if (!legend) { return; }
    legend.querySelectorAll("[data-states]").forEach(function (item) {
      var states = JSON.parse(item.getAttribute("data-states") || "{}");
      var now = item.querySelector(".gis-state-now");
      if (now) { now.textContent = states[key] ? key + ": " + states[key] : ""; }
    });
  };

  Timeline.prototype.visible = function (role) {
    var group = this.layers[role];
    return group ? group.getLayers().length : 0;
  };

  function timeControl(timeline, cfg) {
    var input = cfg.time && document.getElementById(cfg.time + "-range");
    if (!input) { return; }
    input.addEventListener("input", function () { timeline.setYear(cfg.years[Number(input.value)]); });
  }

  function searchControl(map, cfg, layers, timeline) {
    var root = document.getElementById(cfg.search);
    if (!root) { return; }
    var input = root.querySelector("input"), list = root.querySelector("ol"), index = [];
    cfg.searchLayers.forEach(function (role) {
      var group = layers[role], members = group.getLayers();
      (timeline.groups.filter(function (g) { return g.group === group; })[0] || { members: members })
        .members.forEach(function (member) {
          var p = member.feature.properties;
          index.push({ key: G.fold([p.name_ascii, p.name, p.code].join(" ")), p: p, member: member, group: group });
        });
    });
    function reveal(entry) {
      if (!map.hasLayer(entry.group)) { map.addLayer(entry.group); }
      if (!entry.group.hasLayer(entry.member)) {
        hint(entry.p.name + ": not on the map in " + timeline.year + " (" + (entry.member.gisState || "hidden") + ")");
        return;
      }
      var bounds = entry.member.getBounds ? entry.member.getBounds() : L.latLngBounds([entry.member.getLatLng()]);
      map.fitBounds(bounds, { maxZoom: 14, padding: [40, 40] });
      entry.member.openPopup();
    }
    function hint(text) {
      var item = document.createElement("li");
      item.className = "gis-hint";
      item.textContent = text;
      list.replaceChildren(item);
    }
    function show() {
      var q = G.fold(input.value);
      list.replaceChildren();
      if (q.length < 2) { return []; }
      var found = index.filter(function (e) { return e.key.indexOf(q) >= 0; }).slice(0, 8);
      found.forEach(function (entry) {
        var item = document.createElement("li"), button = document.createElement("button");
        var code = document.createElement("small");
        button.type = "button";
        code.textContent = entry.p.code;
        button.append(entry.p.name + " ", code);
        button.addEventListener("click", function () { reveal(entry); });
        item.appendChild(button);
        list.appendChild(item);
      });
      if (!found.length) { hint("No match"); }
      return found;
    }
    input.addEventListener("input", show);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { var found = show(); if (found.length) { reveal(found[0]); } }
    });
  }

  function tilePopups(map, cfg, layers) {
    cfg.tileLayers.forEach(function (role) {
      layers[role].on("click", function (event) {
        var p = (event.layer && event.layer.properties) || {};
        var rows = Object.keys(p).map(function (k) {
          return "<tr><th>" + G.esc(k) + "</th><td>" + G.esc(p[k]) + "</td></tr>";
        }).join("");
        L.popup().setLatLng(event.latlng)
          .setContent("<div class=\"gis-popup\"><h4>" + G.esc(role.split(":")[1]) + "</h4><table>" +
            rows + "</table></div>")
          .openOn(map);
      });
    });
  }

  /* Area of a ring on the sphere, m² (the spherical-excess formula Leaflet.draw uses). */
  G.geodesicArea = function (latlngs) {
    var rad = Math.PI / 180, radius = 6378137, sum = 0, n = latlngs.length;
    if (n < 3) { return 0; }
    for (var i = 0; i < n; i++) {
      var a = latlngs[i], b = latlngs[(i + 1) % n];
      sum += (b.lng - a.lng) * rad * (2 + Math.sin(a.lat * rad) + Math.sin(b.lat * rad));
    }
    return Math.abs(sum * radius * radius / 2);
  };

  function metres(m) { return m < 1000 ? Math.round(m) + " m" : (m / 1000).toFixed(m < 10000 ? 2 : 1) + " km"; }
  function hectares(m2) { var ha = m2 / 10000; return (ha < 10 ? ha.toFixed(2) : ha.toFixed(1)) + " ha"; }

  /* Click points to measure a path and, from three points, the area it encloses. */
  G.Measure = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (map) {
      var box = L.DomUtil.create("div", "leaflet-bar gis-measure");
      this.button = L.DomUtil.create("a", "gis-measure-toggle", box);
      this.button.href = "#";
      this.button.title = "Measure distances and areas";
      this.button.setAttribute("role", "button");
      this.button.textContent = "Measure";
      this.out = L.DomUtil.create("div", "gis-measure-out", box);
      this.out.hidden = true;
      this.map = map;
      this.points = [];
      this.line = L.polyline([], { color: "#d35400", weight: 3, dashArray: "6 4", interactive: false });
      this.area = L.polygon([], { color: "#d35400", weight: 1, fillOpacity: 0.12, interactive: false });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(this.button, "click", function (event) { L.DomEvent.preventDefault(event); this.toggle(); }, this);
      return box;
    },
    toggle: function () { if (this.active) { this.stop(); } else { this.start(); } },
    start: function () {
      this.active = true;
      this.points = [];
      this.redraw();
      L.DomUtil.addClass(this.button, "gis-active");
      this.map.doubleClickZoom.disable();
      this.map.on("preclick", this.add, this).on("popupopen", this.noPopup, this);  // preclick: also on features
      this.line.addTo(this.map);
      this.area.addTo(this.map);
      this.out.hidden = false;
      this.out.textContent = "Click points on the map; click Measure again to finish.";
    },
    stop: function () {
      this.active = false;
      L.DomUtil.removeClass(this.button, "gis-active");
      this.map.doubleClickZoom.enable();
      this.map.off("preclick", this.add, this).off("popupopen", this.noPopup, this);
      if (!this.points.length) { this.clear(); }
    },
    clear: function () {
      this.map.removeLayer(this.line);
      this.map.removeLayer(this.area);
      this.out.hidden = true;
    },
    noPopup: function () { this.map.closePopup(); },
    add: function (event) { this.points.push(event.latlng); this.redraw(); },
    redraw: function () {
      var pts = this.points, length = 0;
      for (var i = 1; i < pts.length; i++) { length += this.map.distance(pts[i - 1], pts[i]); }
      this.line.setLatLngs(pts);
      this.area.setLatLngs(pts.length > 2 ? pts : []);
      if (pts.length > 1) {
        this.out.textContent = "Distance " + metres(length) +
          (pts.length > 2 ? " · area " + hectares(G.geodesicArea(pts)) : "");
      }
    }
  });

  G.init = function (map) {
    var cfg = G.data(map);
    G.landUse = cfg.landUse || G.landUse;
    G.otherColor = cfg.otherColor || G.otherColor;
    var layers = addLayers(map, cfg);
    cfg.panels.forEach(function (p) { panel(map, p.id, p.position); });
    var empty = cfg.empty && document.getElementById(cfg.empty);
    if (empty) { map.getContainer().appendChild(empty); empty.hidden = false; }
    var timeline = new Timeline(map, cfg, layers);
    timeControl(timeline, cfg);
    searchControl(map, cfg, layers, timeline);
    tilePopups(map, cfg, layers);
    timeline.setYear(cfg.year);
    if (cfg.bounds) { map.fitBounds(cfg.bounds); }
    map._gis = timeline;
    G.maps.push(map);
    document.documentElement.setAttribute("data-gis-ready", String(G.maps.length));
    return timeline;
  };
})();
