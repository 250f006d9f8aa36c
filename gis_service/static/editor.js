/* The planner's editor (/edit). Every write goes through the service's API: Part 4 for features (with
 * If-Match), /proposals for changes that wait for review. Every element is built with textContent, never
 * innerHTML, so a property holding markup stays text. Labels in Vietnamese and English. */
(function () {
  "use strict";
  const CONFIG = JSON.parse(document.getElementById("editor-config").textContent);
  const ROOT = CONFIG.root || "";
  const TEXT = {
    vi: {
      title: "Biên tập bản đồ quy hoạch", signin: "Đăng nhập", key: "Khóa API", signinKey: "Đăng nhập bằng khóa",
      signedAs: "Đã đăng nhập: ", signout: "Đăng xuất", layer: "Lớp được phép biên tập", choose: "— chọn lớp —",
      draw: "Vẽ", drawPoint: "Vẽ điểm", drawLine: "Vẽ đường", drawPolygon: "Vẽ vùng", feature: "Đối tượng",
      newFeature: "Đối tượng mới", comment: "Ghi chú thay đổi", asProposal: "Lưu thành đề xuất (chờ duyệt)",
      save: "Lưu", remove: "Xóa", cancel: "Hủy", saved: "Đã lưu", deleted: "Đã xóa", geometry: "Hình học",
      conflict: "Xung đột: người khác đã sửa đối tượng này", yours: "Của bạn", theirs: "Của họ",
      property: "Thuộc tính", reapply: "Áp dụng lại bản của bạn", discard: "Bỏ bản của bạn",
      proposal: "Đề xuất", proposalTitle: "Tiêu đề đề xuất", submit: "Gửi đề xuất", added: "Đã thêm vào đề xuất",
      submitted: "Đã gửi đề xuất #", review: "Duyệt đề xuất", refresh: "Tải lại", noProposals: "Không có đề xuất mở",
      approve: "Duyệt", reject: "Từ chối", reason: "Lý do từ chối", approved: "Đã duyệt đề xuất #",
      rejected: "Đã từ chối đề xuất #", before: "Trước", after: "Sau", history: "Lịch sử", asOf: "Lớp tại thời điểm",
      showAsOf: "Xem", now: "Hiện tại", revert: "Khôi phục bản này", reverted: "Đã khôi phục phiên bản ",
      conflicts: "Các đối tượng đã thay đổi từ khi đề xuất: ", changes: "thay đổi", by: "bởi", area: "Vùng được sửa",
      failed: "Lỗi: ", empty: "(trống)", lang: "English", reload: "Tải lại lớp",
      signinOidc: "Đăng nhập qua tài khoản tổ chức (OIDC)", or: "hoặc",
      badState: "phản hồi đăng nhập không khớp với yêu cầu của trang này", badNonce: "id token không khớp (nonce)",
      footprint: "Ranh giới khu", drawFootprint: "Vẽ ranh giới (vùng)", removeFootprint: "Bỏ ranh giới",
      noFootprint: "(chưa có ranh giới)", hasFootprint: "có ranh giới",
    },
    en: {
      title: "Planning map editor", signin: "Sign in", key: "API key", signinKey: "Sign in with a key",
      signedAs: "Signed in as ", signout: "Sign out", layer: "Layers you may edit", choose: "— pick a layer —",
      draw: "Draw", drawPoint: "Draw point", drawLine: "Draw line", drawPolygon: "Draw polygon", feature: "Feature",
      newFeature: "New feature", comment: "Change comment", asProposal: "Save as a proposal (for review)",
      save: "Save", remove: "Delete", cancel: "Cancel", saved: "Saved", deleted: "Deleted", geometry: "Geometry",
      conflict: "Conflict: someone else changed this feature", yours: "Yours", theirs: "Theirs",
      property: "Property", reapply: "Re-apply yours on top", discard: "Discard yours",
      proposal: "Proposal", proposalTitle: "Proposal title", submit: "Submit proposal", added: "Added to the proposal",
      submitted: "Submitted proposal #", review: "Review proposals", refresh: "Refresh", noProposals: "No open proposals",
      approve: "Approve", reject: "Reject", reason: "Reason for rejecting", approved: "Approved proposal #",
      rejected: "Rejected proposal #", before: "Before", after: "After", history: "History", asOf: "Layer as of",
      showAsOf: "Show", now: "Now", revert: "Revert to this", reverted: "Reverted to version ",
      conflicts: "Features changed since the proposal: ", changes: "changes", by: "by", area: "Edit area",
      failed: "Error: ", empty: "(empty)", lang: "Tiếng Việt", reload: "Reload layer",
      signinOidc: "Sign in with your organisation (OIDC)", or: "or",
      badState: "the sign-in answer does not match this page's request", badNonce: "the id token does not match (nonce)",
      footprint: "Footprint", drawFootprint: "Draw footprint (polygon)", removeFootprint: "Remove footprint",
      noFootprint: "(no footprint)", hasFootprint: "footprint drawn",
    },
  };
  let lang = "vi";
  const t = (key) => TEXT[lang][key] || key;
  /** Roles that review proposals and may revert: curator and above (gis_service.auth.principal). */
  const CURATING = ["curator", "layer-admin", "admin"];
  const state = { key: null, session: null, spec: null, layer: null, selected: null, basket: [], asOf: null };

  // ---- DOM helpers: text only ------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "i18n") { node.dataset.i18n = value; node.textContent = t(value); }
      else if (name === "on") { for (const [ev, fn] of Object.entries(value)) { node.addEventListener(ev, fn); } }
      else if (value !== null && value !== undefined && value !== false) { node.setAttribute(name, value); }
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const show = (id, visible) => { $(id).hidden = !visible; };
  function say(text, bad) {
    const box = $("message");
    box.textContent = text;
    box.className = bad ? "message bad" : "message";
    box.hidden = !text;
  }
  const shown = (value) => (value === null || value === undefined || value === "" ? t("empty") : String(value));
  const asText = (value) => (value === null || value === undefined ? "" : String(value));

  // ---- the API --------------------------------------------------------------------------------------
  /** UTF-8 bytes as a header value (fetch sends code points below 256 as single bytes). */
  function headerText(text) {
    return Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join("");
  }
  async function api(method, path, options) {
    const opts = options || {};
    const headers = Object.assign({}, opts.headers || {});
    if (state.key) { headers.Authorization = "Bearer " + state.key; }
    let body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["Content-Type"] = headers["Content-Type"] || "application/json";
    }
    const response = await fetch(ROOT + path, { method, headers, body, cache: "no-store" });
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : null;
    return { status: response.status, ok: response.ok, headers: response.headers, data };
  }
  const itemsPath = (c) => "/collections/" + encodeURIComponent(c) + "/items";
  const itemPath = (c, id) => itemsPath(c) + "/" + encodeURIComponent(id);
  /** A feature of the chosen layer as GET returns it now (its ETag in the headers). */
  const getFeature = (id) => api("GET", itemPath(state.spec.id, id), { headers: { Accept: "application/geo+json" } });
  const etagVersion = (etag) => parseInt(String(etag || "").replace(/[^0-9]/g, ""), 10) || null;
  function problemText(res) {
    const p = res.data || {};
    return t("failed") + (p.detail || p.title || res.status);
  }

  // ---- the page ------------------------------------------------------------------------------------
  function build() {
    const app = $("editor-app");
    app.append(
      el("button", { class: "lang", id: "lang", type: "button", i18n: "lang", on: { click: toggleLanguage } }),
      el("h1", { i18n: "title" }),
      el("section", { id: "signin-panel" },
        el("h2", { i18n: "signin" }),
        CONFIG.oidc ? el("button", { id: "signin-oidc", type: "button", i18n: "signinOidc",
          on: { click: signInWithOidc } }) : null,
        CONFIG.oidc ? el("p", { class: "muted", i18n: "or" }) : null,
        el("label", { for: "key", i18n: "key" }),
        el("input", { id: "key", type: "password", autocomplete: "off" }),
        el("button", { id: "signin-key", type: "button", i18n: "signinKey", on: { click: signInWithKey } }),
      ),
      el("section", { id: "session-panel", hidden: "" },
        el("p", {}, el("span", { i18n: "signedAs" }), el("strong", { id: "who" })),
        el("button", { id: "signout", type: "button", i18n: "signout", on: { click: () => location.reload() } }),
        el("label", { for: "layer", i18n: "layer" }),
        el("select", { id: "layer", on: { change: pickLayer } }),
        el("button", { id: "reload-layer", type: "button", i18n: "reload", on: { click: () => loadLayer() } }),
        el("div", { id: "draw-tools" }),
        el("label", { for: "as-of", i18n: "asOf" }),
        el("input", { id: "as-of", type: "datetime-local", step: "1" }),
        el("button", { id: "show-as-of", type: "button", i18n: "showAsOf", on: { click: showAsOf } }),
        el("button", { id: "show-now", type: "button", i18n: "now", on: { click: showNow } }),
      ),
      el("div", { id: "message", class: "message", role: "status", hidden: "" }),
      el("section", { id: "feature-panel", hidden: "" },
        el("h2", { id: "feature-title" }),
        el("div", { id: "form" }),
        el("label", { i18n: "geometry" }),
        el("div", { id: "geometry-error", class: "error" }),
        el("div", { id: "footprint-box", hidden: "" },
          el("label", { i18n: "footprint" }),
          el("span", { id: "footprint-state", class: "muted" }),
          el("div", {},
            el("button", { id: "draw-footprint", type: "button", i18n: "drawFootprint", on: { click: drawFootprint } }),
            el("button", { id: "remove-footprint", type: "button", i18n: "removeFootprint",
              on: { click: removeFootprint } })),
          el("div", { class: "error", "data-error-for": "footprint" })),
        el("label", { for: "comment", i18n: "comment" }),
        el("input", { id: "comment", type: "text", maxlength: "500" }),
        el("label", {}, el("input", { id: "as-proposal", type: "checkbox" }), " ", el("span", { i18n: "asProposal" })),
        el("button", { id: "save", type: "button", i18n: "save", on: { click: save } }),
        el("button", { id: "delete", type: "button", i18n: "remove", on: { click: remove } }),
        el("button", { id: "cancel", type: "button", i18n: "cancel", on: { click: deselect } }),
        el("button", { id: "show-history", type: "button", i18n: "history", on: { click: showHistory } }),
      ),
      el("section", { id: "conflict-panel", hidden: "" },
        el("h2", { i18n: "conflict" }),
        el("p", { class: "muted" }, el("span", { class: "legend-swatch swatch-yours" }), el("span", { i18n: "yours" }),
          " ", el("span", { class: "legend-swatch swatch-theirs" }), el("span", { i18n: "theirs" })),
        el("table", { id: "conflict-table" }),
        el("button", { id: "reapply", type: "button", i18n: "reapply", on: { click: reapply } }),
        el("button", { id: "discard", type: "button", i18n: "discard", on: { click: discard } }),
      ),
      el("section", { id: "history-panel", hidden: "" },
        el("h2", { i18n: "history" }),
        el("ol", { id: "timeline" }),
      ),
      el("section", { id: "proposal-panel", hidden: "" },
        el("h2", { i18n: "proposal" }),
        el("ul", { id: "basket" }),
        el("label", { for: "proposal-title", i18n: "proposalTitle" }),
        el("input", { id: "proposal-title", type: "text", maxlength: "200" }),
        el("label", { for: "proposal-comment", i18n: "comment" }),
        el("input", { id: "proposal-comment", type: "text", maxlength: "500" }),
        el("button", { id: "submit-proposal", type: "button", i18n: "submit", on: { click: submitProposal } }),
      ),
      el("section", { id: "review-panel", hidden: "" },
        el("h2", { i18n: "review" }),
        el("button", { id: "refresh-proposals", type: "button", i18n: "refresh", on: { click: loadProposals } }),
        el("ul", { id: "proposals" }),
        el("div", { id: "proposal-detail" }),
      ),
    );
  }

  function toggleLanguage() {
    lang = lang === "vi" ? "en" : "vi";
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) { node.textContent = t(node.dataset.i18n); }
  }

  // ---- the map -------------------------------------------------------------------------------------
  const map = L.map("editor-map", { center: [11.05, 106.65], zoom: 11 });
  map.pm.setGlobalOptions({ snappable: true, snapDistance: 20 });
  const areaLayer = L.layerGroup().addTo(map);
  const overlay = L.layerGroup().addTo(map); // conflict and review drawings, never edited
  const footprintLayer = L.featureGroup().addTo(map); // the selected park's footprint, editable
  const STYLE = { color: "#2e86c1", weight: 2, fillOpacity: 0.2 };

  function geoJsonLayer(data, style, interactive) {
    return L.geoJSON(data, {
      pmIgnore: !interactive,
      interactive,
      style: () => style,
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, Object.assign({ radius: 7 }, style)),
    });
  }

  // ---- sign-in -------------------------------------------------------------------------------------
  async function signInWithKey() {
    const key = $("key").value.trim();
    if (!key) { return; }
    state.key = key;
    const res = await api("GET", "/edit/session");
    if (res.status !== 200) { state.key = null; say(problemText(res), true); return; }
    $("key").value = "";
    await startSession(res.data);
  }

  // ---- OIDC sign-in: authorization code with PKCE (S256), a public client (no secret) ----------------
  // State, nonce and code verifier wait in sessionStorage across the round trip to the issuer; the id token
  // (a JWT the API checks against the issuer's keys) is kept in memory only and sent as the bearer.
  const PENDING = "gis-editor-oidc";
  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const randomText = () => b64url(crypto.getRandomValues(new Uint8Array(32)));
  const redirectUri = () => location.origin + location.pathname;

  function jwtClaims(token) {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  async function discovery() {
    const res = await fetch(CONFIG.oidc.issuer + "/.well-known/openid-configuration", { cache: "no-store" });
    if (!res.ok) { throw new Error("discovery: " + res.status); }
    const doc = await res.json();
    if (String(doc.issuer).replace(/\/$/, "") !== CONFIG.oidc.issuer) {
      throw new Error("the discovery document names another issuer");
    }
    return doc;
  }

  async function signInWithOidc() {
    try {
      const doc = await discovery();
      const pending = { state: randomText(), nonce: randomText(), verifier: randomText(),
        tokenEndpoint: doc.token_endpoint };
      const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pending.verifier)));
      sessionStorage.setItem(PENDING, JSON.stringify(pending));
      const query = new URLSearchParams({ response_type: "code", client_id: CONFIG.oidc.clientId,
        redirect_uri: redirectUri(), scope: CONFIG.oidc.scopes, state: pending.state, nonce: pending.nonce,
        code_challenge: challenge, code_challenge_method: "S256" });
      location.assign(doc.authorization_endpoint + "?" + query.toString());
    } catch (err) {
      say(t("failed") + err.message, true);
    }
  }

  /** Back from the issuer (?code=…&state=…, or ?error=…): check the state, exchange the code, sign in. */
  async function finishOidc() {
    const params = new URLSearchParams(location.search);
    if (!CONFIG.oidc || !(params.has("code") || params.has("error"))) { return; }
    const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
    sessionStorage.removeItem(PENDING);
    history.replaceState(null, "", redirectUri()); // the code leaves the address bar and the history
    if (params.has("error")) { return say(t("failed") + (params.get("error_description") || params.get("error")), true); }
    if (!pending || params.get("state") !== pending.state) { return say(t("failed") + t("badState"), true); }
    // Form-encoded without custom headers: a simple CORS request, no preflight.
    const body = new URLSearchParams({ grant_type: "authorization_code", code: params.get("code"),
      redirect_uri: redirectUri(), client_id: CONFIG.oidc.clientId, code_verifier: pending.verifier });
    try {
      const res = await fetch(pending.tokenEndpoint, { method: "POST", body, cache: "no-store" });
      const tokens = await res.json();
      if (!res.ok || !tokens.id_token) { throw new Error(tokens.error_description || tokens.error || res.status); }
      if (jwtClaims(tokens.id_token).nonce !== pending.nonce) { throw new Error(t("badNonce")); }
      state.key = tokens.id_token;
    } catch (err) {
      return say(t("failed") + err.message, true);
    }
    const res = await api("GET", "/edit/session");
    if (res.status !== 200) { state.key = null; return say(problemText(res), true); }
    await startSession(res.data);
  }

  async function startSession(session) {
    state.session = session;
    $("who").textContent = session.name;
    show("signin-panel", false);
    show("session-panel", true);
    const select = $("layer");
    select.replaceChildren(el("option", { value: "", i18n: "choose" }));
    for (const spec of CONFIG.collections) {
      const res = await api("OPTIONS", itemsPath(spec.id));
      const allow = (res.headers.get("Allow") || "").split(/\s*,\s*/);
      if (allow.includes("POST")) { select.append(el("option", { value: spec.id }, spec.title)); }
    }
    const curates = Object.values(session.roles).some((r) => CURATING.includes(r));
    show("review-panel", curates);
    if (curates) { await loadProposals(); }
    document.documentElement.dataset.editorSignedIn = session.name;
  }

  const curator = () => CURATING.includes((state.session.roles || {})[state.spec.id]);

  // ---- a layer -------------------------------------------------------------------------------------
  async function pickLayer() {
    const id = $("layer").value;
    deselect();
    state.spec = CONFIG.collections.find((c) => c.id === id) || null;
    tools();
    areaLayer.clearLayers();
    const area = state.spec && state.session.editAreas[state.spec.id];
    if (area) {
      L.geoJSON(area, { pmIgnore: true, interactive: false, style: () => ({ color: "#8e44ad", dashArray: "6 4",
        fill: false, weight: 2 }) }).addTo(areaLayer);
    }
    await loadLayer();
  }

  function tools() {
    const box = $("draw-tools");
    box.replaceChildren();
    if (!state.spec) { return; }
    const kind = state.spec.geometryType;
    const shapes = kind === "Point" ? [["CircleMarker", "drawPoint"]]
      : kind === "MultiPolygon" || kind === "Polygon" ? [["Polygon", "drawPolygon"]]
        : kind === "LineString" || kind === "MultiLineString" ? [["Line", "drawLine"]]
          : [["Line", "drawLine"], ["Polygon", "drawPolygon"], ["CircleMarker", "drawPoint"]];
    for (const [shape, label] of shapes) {
      box.append(el("button", { type: "button", "data-shape": shape, i18n: label,
        on: { click: () => { deselect(); map.pm.enableDraw(shape, { snappable: true }); } } }));
    }
  }

  async function loadLayer() {
    if (state.layer) { map.removeLayer(state.layer); state.layer = null; }
    if (!state.spec) { return; }
    let path = itemsPath(state.spec.id) + "?limit=2000";
    if (state.asOf) { path += "&asOf=" + encodeURIComponent(state.asOf); }
    const res = await api("GET", path, { headers: { Accept: "application/geo+json" } });
    if (res.status !== 200) { say(problemText(res), true); return; }
    const editable = !state.asOf;
    state.layer = geoJsonLayer(res.data, STYLE, true).addTo(map);
    state.layer.eachLayer((member) => {
      member.on("click", () => { if (editable) { select(member); } });
      const name = member.feature.properties.name || member.feature.id;
      const tip = el("span", {}, String(name)); // text, not HTML: Leaflet renders a string tooltip as markup
      member.bindTooltip(tip);
    });
    document.documentElement.dataset.editorLayer = state.spec.id + ":" + res.data.features.length;
  }

  function featureLayer(id) {
    let found = null;
    if (state.layer) { state.layer.eachLayer((m) => { if (String(m.feature.id) === String(id)) { found = m; } }); }
    return found;
  }

  // ---- selecting and the form ----------------------------------------------------------------------
  async function select(member) {
    deselect();
    const id = member.feature.id;
    const res = await getFeature(id);
    if (res.status !== 200) { say(problemText(res), true); return; }
    state.selected = { layer: member, id: String(id), etag: res.headers.get("ETag"), feature: res.data, drawn: false };
    for (const name of state.spec.extraGeometries) {
      if (res.data.properties[name]) { setFootprint(L.geoJSON(res.data.properties[name], { style: () => FOOTPRINT })); }
    }
    member.pm.enable({ snappable: true });
    member.once("pm:edit", () => { if (state.selected) { state.selected.geometryEdited = true; } });
    openForm(res.data.properties, String(id));
  }

  function deselect() {
    if (state.selected) {
      const member = state.selected.layer;
      if (member.pm) { member.pm.disable(); }
      if (state.selected.drawn && !state.selected.saved) { map.removeLayer(member); }
    }
    footprintLayer.clearLayers();
    state.drawingFootprint = false;
    state.selected = null;
    overlay.clearLayers();
    ["feature-panel", "conflict-panel", "history-panel"].forEach((id) => show(id, false));
  }

  function openForm(properties, id) {
    $("feature-title").textContent = id ? t("feature") + " " + id : t("newFeature");
    const form = $("form");
    form.replaceChildren();
    for (const field of state.spec.fields) {
      const value = properties[field.name];
      const inputId = "field-" + field.name;
      let input;
      if (field.enum) {
        input = el("select", { id: inputId, name: field.name }, el("option", { value: "" }, ""));
        for (const option of field.enum) { input.append(el("option", { value: option }, option)); }
        if (value !== null && value !== undefined && !field.enum.includes(value)) {
          input.append(el("option", { value: String(value) }, String(value)));
        }
        input.value = asText(value);
      } else if (field.type === "boolean") {
        input = el("input", { id: inputId, name: field.name, type: "checkbox" });
        input.checked = value === true;
      } else {
        const type = field.type === "integer" || field.type === "number" ? "number" : "text";
        input = el("input", { id: inputId, name: field.name, type, step: field.type === "number" ? "any" : null });
        input.value = asText(value);
      }
      form.append(
        el("label", { for: inputId }, field.title, field.required ? el("span", { class: "req" }, "*") : null),
        input,
        el("div", { class: "error", "data-error-for": field.name }),
      );
    }
    $("geometry-error").textContent = "";
    $("footprint-box").hidden = !state.spec.extraGeometries.includes("footprint");
    footprintState();
    $("delete").hidden = !id;
    $("show-history").hidden = !id;
    show("feature-panel", true);
  }

  function formProperties() {
    const properties = {};
    for (const field of state.spec.fields) {
      const input = $("field-" + field.name);
      if (field.type === "boolean") { properties[field.name] = input.checked; continue; }
      const raw = input.value.trim();
      if (raw === "") { properties[field.name] = null; continue; }
      properties[field.name] = field.type === "integer" ? parseInt(raw, 10)
        : field.type === "number" ? parseFloat(raw) : raw;
    }
    return properties;
  }

  function currentFeature() {
    const geometry = state.selected.layer.toGeoJSON().geometry;
    const properties = formProperties();
    if (state.spec.extraGeometries.includes("footprint")) { properties.footprint = footprintGeometry(); }
    return { type: "Feature", geometry, properties };
  }

  // ---- a park's footprint: a polygon besides the site point, sent as properties.footprint --------------
  const FOOTPRINT = { color: "#b03a2e", weight: 2, dashArray: "4 3", fillOpacity: 0.15 };

  function setFootprint(group) {
    footprintLayer.clearLayers();
    group.eachLayer((polygon) => {
      polygon.setStyle(FOOTPRINT);
      polygon.addTo(footprintLayer);
      polygon.pm.enable({ snappable: true });
      polygon.on("pm:edit", () => { if (state.selected) { state.selected.footprintEdited = true; } });
    });
    footprintState();
  }

  /** The drawn polygons as one GeoJSON geometry (a MultiPolygon when there are several), or null. */
  function footprintGeometry() {
    const rings = [];
    footprintLayer.eachLayer((polygon) => {
      const g = polygon.toGeoJSON().geometry;
      if (g.type === "Polygon") { rings.push(g.coordinates); } else if (g.type === "MultiPolygon") { rings.push(...g.coordinates); }
    });
    if (!rings.length) { return null; }
    return rings.length === 1 ? { type: "Polygon", coordinates: rings[0] } : { type: "MultiPolygon", coordinates: rings };
  }

  function footprintState() {
    const count = footprintLayer.getLayers().length;
    $("footprint-state").textContent = count ? t("hasFootprint") : t("noFootprint");
    $("remove-footprint").hidden = !count;
  }

  function drawFootprint() {
    if (!state.selected) { return; }
    state.drawingFootprint = true;
    map.pm.enableDraw("Polygon", { snappable: true, pathOptions: FOOTPRINT });
  }

  function removeFootprint() {
    footprintLayer.clearLayers();
    if (state.selected) { state.selected.footprintEdited = true; }
    footprintState();
  }

  function clearErrors() {
    for (const node of document.querySelectorAll("#editor-app .error")) { node.textContent = ""; }
    for (const node of document.querySelectorAll("#editor-app .invalid")) { node.classList.remove("invalid"); }
  }

  /** A 422 next to what it names: a field of the form, or the geometry (with the vertex, when given). */
  function showInvalid(problem) {
    const parameter = String(problem.parameter || "").replace(/^changes\[\d+\]\./, "");
    const name = parameter.startsWith("properties.") ? parameter.slice("properties.".length) : null;
    const slot = name && document.querySelector('[data-error-for="' + CSS.escape(name) + '"]');
    const input = name && $("field-" + name);
    if (slot) {
      slot.textContent = problem.detail;
      if (input) { input.classList.add("invalid"); input.focus(); }
    } else {
      $("geometry-error").textContent = problem.detail;
    }
    if (Array.isArray(problem.coordinate)) {
      L.circleMarker([problem.coordinate[1], problem.coordinate[0]], { color: "#b03a2e", radius: 10,
        pmIgnore: true }).addTo(overlay);
    }
  }

  function comment() {
    const text = $("comment").value.trim();
    return text ? { "X-Change-Comment": headerText(text) } : {};
  }

  // ---- saving --------------------------------------------------------------------------------------
  async function save() {
    if (!state.selected) { return; }
    clearErrors();
    const feature = currentFeature();
    if ($("as-proposal").checked) { return addToProposal(feature); }
    const sel = state.selected;
    const headers = Object.assign({ "Content-Type": "application/geo+json" }, comment());
    let res;
    if (sel.id) {
      headers["If-Match"] = sel.etag;
      res = await api("PUT", itemPath(state.spec.id, sel.id), { json: feature, headers });
    } else {
      res = await api("POST", itemsPath(state.spec.id), { json: feature, headers });
    }
    await afterWrite(res, feature);
  }

  async function afterWrite(res, mine) {
    if (res.status === 412) { return showConflict(mine); }
    if (res.status === 422) { say(problemText(res), true); return showInvalid(res.data); }
    if (!res.ok) { return say(problemText(res), true); }
    const location = res.headers.get("Location");
    const id = location ? decodeURIComponent(location.split("/").pop()) : state.selected.id;
    state.selected.saved = true;
    deselect();
    await loadLayer();
    say(t("saved") + " " + id + " (" + res.headers.get("ETag") + ")");
    document.documentElement.dataset.editorSaved = id;
  }

  async function remove() {
    const sel = state.selected;
    if (!sel || !sel.id) { return; }
    if ($("as-proposal").checked) {
      return addChange({ collection: state.spec.id, op: "delete", id: sel.id, baseVersion: etagVersion(sel.etag) });
    }
    const headers = Object.assign({ "If-Match": sel.etag }, comment());
    const res = await api("DELETE", itemPath(state.spec.id, sel.id), { headers });
    if (res.status === 412) { return showConflict(null); }
    if (!res.ok) { return say(problemText(res), true); }
    deselect();
    await loadLayer();
    say(t("deleted") + " " + sel.id);
  }

  // ---- the conflict view: theirs beside yours, the properties that differ ----------------------------
  async function showConflict(mine) {
    const sel = state.selected;
    const res = await getFeature(sel.id);
    if (res.status !== 200) { return say(problemText(res), true); }
    sel.theirs = res.data;
    sel.theirEtag = res.headers.get("ETag");
    sel.mine = mine;
    overlay.clearLayers();
    geoJsonLayer(res.data, { color: "#d68910", weight: 3, dashArray: "8 6", fillOpacity: 0.1 }, false).addTo(overlay);
    const table = $("conflict-table");
    table.replaceChildren(el("tr", {}, el("th", { i18n: "property" }), el("th", { i18n: "yours" }),
      el("th", { i18n: "theirs" })));
    const ours = mine ? mine.properties : {};
    for (const field of state.spec.fields) {
      const a = ours[field.name], b = res.data.properties[field.name];
      if ((a ?? null) !== (b ?? null)) {
        table.append(el("tr", { "data-property": field.name }, el("td", {}, field.name), el("td", {}, shown(a)),
          el("td", {}, shown(b))));
      }
    }
    if (mine && JSON.stringify(mine.geometry) !== JSON.stringify(res.data.geometry)) {
      table.append(el("tr", { "data-property": "geometry" }, el("td", { i18n: "geometry" }), el("td", {}, "…"),
        el("td", {}, "…")));
    }
    show("conflict-panel", true);
    say(t("conflict") + " (" + sel.etag + " → " + sel.theirEtag + ")", true);
  }

  async function reapply() {
    const sel = state.selected;
    sel.etag = sel.theirEtag;
    show("conflict-panel", false);
    overlay.clearLayers();
    if (!sel.mine) { return remove(); }
    const merged = onTheirs(sel);
    const headers = Object.assign({ "Content-Type": "application/geo+json", "If-Match": sel.etag }, comment());
    const res = await api("PUT", itemPath(state.spec.id, sel.id), { json: merged, headers });
    await afterWrite(res, merged);
  }

  /** Their version with what this planner changed (properties edited in the form, the geometry if moved). */
  function onTheirs(sel) {
    const base = sel.feature.properties, mine = sel.mine.properties, properties = {};
    for (const field of state.spec.fields) {
      const edited = (mine[field.name] ?? null) !== (base[field.name] ?? null);
      properties[field.name] = edited ? mine[field.name] : (sel.theirs.properties[field.name] ?? null);
    }
    for (const name of state.spec.extraGeometries) {
      properties[name] = sel.footprintEdited ? sel.mine.properties[name] : (sel.theirs.properties[name] ?? null);
    }
    const geometry = sel.geometryEdited ? sel.mine.geometry : sel.theirs.geometry;
    return { type: "Feature", geometry, properties };
  }

  async function discard() {
    const id = state.selected.id;
    deselect();
    await loadLayer();
    const member = featureLayer(id);
    if (member) { await select(member); }
    say(t("discard"));
  }

  // ---- proposals: the editor's side ------------------------------------------------------------------
  function addToProposal(feature) {
    const sel = state.selected;
    const change = sel.id
      ? { collection: state.spec.id, op: "update", id: sel.id, baseVersion: etagVersion(sel.etag), feature }
      : { collection: state.spec.id, op: "create", feature };
    addChange(change);
  }

  function addChange(change) {
    state.basket.push(change);
    renderBasket();
    if (state.selected && state.selected.drawn) { state.selected.saved = true; }
    deselect();
    say(t("added"));
  }

  function renderBasket() {
    const list = $("basket");
    list.replaceChildren(...state.basket.map((c) => el("li", {}, c.op + " · " + c.collection + " · "
      + (c.id || (c.feature.properties.name || "")))));
    show("proposal-panel", state.basket.length > 0);
  }

  async function submitProposal() {
    const title = $("proposal-title").value.trim() || state.basket.length + " " + t("changes");
    const body = { title, comment: $("proposal-comment").value.trim() || null, changes: state.basket };
    const res = await api("POST", "/proposals", { json: body });
    if (res.status !== 201) { return say(problemText(res), true); }
    state.basket = [];
    renderBasket();
    $("proposal-title").value = "";
    $("proposal-comment").value = "";
    say(t("submitted") + res.data.id);
    document.documentElement.dataset.editorProposal = String(res.data.id);
    await loadLayer();
    if (!$("review-panel").hidden) { await loadProposals(); }
  }

  // ---- proposals: the curator's side -----------------------------------------------------------------
  async function loadProposals() {
    const res = await api("GET", "/proposals?status=open");
    if (res.status !== 200) { return say(problemText(res), true); }
    const list = $("proposals");
    list.replaceChildren();
    if (!res.data.proposals.length) { list.append(el("li", { i18n: "noProposals" })); }
    for (const p of res.data.proposals) {
      list.append(el("li", {}, el("button", { type: "button", "data-proposal": String(p.id),
        on: { click: () => openProposal(p.id) } }, "#" + p.id + " " + p.title), " ", el("span", { class: "muted" },
        t("by") + " " + p.author + " · " + p.collections.join(", "))));
    }
    $("proposal-detail").replaceChildren();
  }

  async function openProposal(id) {
    const res = await api("GET", "/proposals/" + id);
    if (res.status !== 200) { return say(problemText(res), true); }
    const p = res.data;
    overlay.clearLayers();
    const box = $("proposal-detail");
    box.replaceChildren(
      el("h2", {}, "#" + p.id + " " + p.title),
      el("p", { class: "muted" }, t("by") + " " + p.author + " · " + p.createdAt + (p.comment ? " · " + p.comment : "")),
      el("p", { class: "muted" }, el("span", { class: "legend-swatch swatch-before" }), el("span", { i18n: "before" }),
        " ", el("span", { class: "legend-swatch swatch-after" }), el("span", { i18n: "after" })),
    );
    const bounds = L.latLngBounds([]);
    for (const change of p.changes) {
      for (const [feature, style] of [[change.before, { color: "#7f8c8d", dashArray: "6 4", fillOpacity: 0.1 }],
        [change.after, { color: "#1e8449", weight: 3, fillOpacity: 0.3 }]]) {
        if (feature && feature.geometry) {
          const drawn = geoJsonLayer(feature, style, false).addTo(overlay);
          bounds.extend(drawn.getBounds());
        }
      }
      const table = el("table", { class: "diff", "data-change": change.op + ":" + (change.id || "") },
        el("tr", {}, el("th", {}, change.op + " " + change.collection + " " + (change.id || "")),
          el("th", { i18n: "before" }), el("th", { i18n: "after" })));
      const before = (change.before || {}).properties || {};
      const after = (change.after || {}).properties || {};
      for (const name of change.changedProperties) {
        table.append(el("tr", { "data-property": name }, el("td", {}, name), el("td", {}, shown(before[name])),
          el("td", {}, shown(after[name]))));
      }
      if (change.geometryChanged) {
        table.append(el("tr", {}, el("td", { i18n: "geometry" }), el("td", {}, "…"), el("td", {}, "…")));
      }
      box.append(table);
    }
    if (bounds.isValid()) { map.fitBounds(bounds, { maxZoom: 15 }); }
    box.append(
      el("button", { id: "approve", type: "button", i18n: "approve", on: { click: () => decide(p.id, "approve") } }),
      el("label", { for: "reason", i18n: "reason" }),
      el("input", { id: "reason", type: "text", maxlength: "500" }),
      el("button", { id: "reject", type: "button", i18n: "reject", on: { click: () => decide(p.id, "reject") } }),
    );
  }

  async function decide(id, verdict) {
    const options = verdict === "reject" ? { json: { reason: $("reason").value.trim() } } : {};
    const res = await api("POST", "/proposals/" + id + "/" + verdict, options);
    if (res.status === 409 && res.data.conflicts) {
      return say(t("conflicts") + res.data.conflicts.map((c) => c.collection + " " + c.id).join(", "), true);
    }
    if (!res.ok) { return say(problemText(res), true); }
    overlay.clearLayers();
    say(t(verdict === "approve" ? "approved" : "rejected") + id);
    document.documentElement.dataset.editorDecided = id + ":" + verdict;
    await loadProposals();
    await loadLayer();
  }

  // ---- history -------------------------------------------------------------------------------------
  async function showHistory() {
    const sel = state.selected;
    const res = await api("GET", itemPath(state.spec.id, sel.id) + "/history");
    if (res.status !== 200) { return say(problemText(res), true); }
    const list = $("timeline");
    list.replaceChildren();
    for (const v of res.data.versions.slice().reverse()) {
      const cs = v.changeSet || {};
      const item = el("li", { "data-version": String(v.version) },
        el("strong", {}, "v" + v.version + " · " + v.operation), " · " + v.changedBy + " · " + v.changedAt,
        cs.comment ? el("div", { class: "muted" }, cs.comment) : null);
      if (curator() && v.operation !== "deleted" && v.version !== etagVersion(sel.etag)) {
        item.append(el("button", { type: "button", class: "revert", i18n: "revert",
          on: { click: () => revert(sel.id, v.version) } }));
      }
      list.append(item);
    }
    show("history-panel", true);
  }

  async function revert(id, version) {
    const res = await api("POST", itemPath(state.spec.id, id) + "/revert?version=" + version, { headers: comment() });
    if (!res.ok) { return say(problemText(res), true); }
    deselect();
    await loadLayer();
    say(t("reverted") + version);
  }

  async function showAsOf() {
    const value = $("as-of").value;
    if (!value || !state.spec) { return; }
    state.asOf = new Date(value).toISOString();
    deselect();
    await loadLayer();
  }

  async function showNow() {
    state.asOf = null;
    $("as-of").value = "";
    await loadLayer();
  }

  // ---- drawing -------------------------------------------------------------------------------------
  map.on("pm:create", (event) => {
    if (!state.spec) { map.removeLayer(event.layer); return; }
    if (state.drawingFootprint && state.selected) { // a footprint of the open feature, not a new feature
      state.drawingFootprint = false;
      map.removeLayer(event.layer);
      const group = L.featureGroup([event.layer]);
      footprintLayer.eachLayer((old) => group.addLayer(old));
      state.selected.footprintEdited = true;
      setFootprint(group);
      return;
    }
    deselect();
    state.selected = { layer: event.layer, id: null, etag: null, drawn: true };
    event.layer.pm.enable({ snappable: true });
    openForm({}, null);
  });

  build();
  finishOidc();
  window.GisEditor = { map }; // the map, for the browser tests and the console (as GisMaps on /maps)
  document.documentElement.dataset.editorReady = "1";
})();
