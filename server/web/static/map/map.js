// The county coverage map: log in, colour the children of the current area by an indicator, drill down
// county -> township -> village -> grid, a date range, overdue tips outlined with a badge, CSV/GeoJSON export.
// Data: GET /api/v1/coverage/{code}?format=geojson (the children with their indicators); labels from /coverage/meta.
import { AuthError, download, getJSON, hasSession, login, logout, userName } from "./api.js";
import { classesFor, NO_DATA } from "./classes.js";

const L = window.L;
const $ = (id) => document.getElementById(id);
const state = { meta: null, fields: {}, field: "visit_rate", trail: [], data: null, since: "", until: "" };

const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches; // no zoom animation when asked
const map = L.map("map", { zoomSnap: 0.25, minZoom: 5, maxZoom: 18, zoomAnimation: !still, fadeAnimation: !still });
map.setView([28.94, 118.87], 11);
new ResizeObserver(() => map.invalidateSize()).observe($("map")); // the panel and the layout may change its size
let areas = null;
const badges = L.layerGroup().addTo(map);
const legend = L.control({ position: "bottomright" });
legend.onAdd = () => L.DomUtil.create("div", "legend");
legend.addTo(map);

function format(field, value) {
  if (value === null || value === undefined) return "—";
  if (field.kind === "rate") return `${(value * 100).toFixed(1)}%`;
  if (field.kind === "time") return new Date(value).toLocaleString("zh-CN", { hour12: false });
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(field.kind === "index" ? 1 : 2);
  return String(value);
}

function showError(message) {
  $("error").textContent = message || "";
}

function showLogin(message = "") {
  $("login").hidden = false;
  $("controls").hidden = true;
  $("details").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-error").textContent = message;
}

async function guarded(task) {
  try {
    showError("");
    await task();
  } catch (error) {
    if (error instanceof AuthError) showLogin(error.message);
    else showError(error.message);
  }
}

function setupBasemap(basemap) {
  if (!basemap || !basemap.url) return;
  const options = { attribution: basemap.attribution || "", maxZoom: 18 };
  if (basemap.subdomains) options.subdomains = basemap.subdomains;
  L.tileLayer(basemap.url, options).addTo(map);
  if (basemap.label_url) L.tileLayer(basemap.label_url, options).addTo(map);
}

function fillIndicators() {
  const select = $("indicator");
  select.replaceChildren();
  for (const field of state.meta.fields.filter((f) => f.choropleth)) {
    select.append(new Option(field.name === "index_value" ? "指数（服务/堡垒，红黄灰）" : field.zh, field.name));
  }
  select.value = state.field;
}

async function boot() {
  state.meta = await getJSON("/api/v1/coverage/meta");
  state.fields = Object.fromEntries(state.meta.fields.map((f) => [f.name, f]));
  setupBasemap(state.meta.basemap);
  fillIndicators();
  $("login").hidden = true;
  $("controls").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = userName();
  if (!state.meta.home_area) throw new Error("您的账号没有可查看的区域");
  state.trail = [];
  await open(state.meta.home_area);
}

function query(extra = {}) {
  const params = new URLSearchParams(extra);
  if (state.since) params.set("since", state.since);
  if (state.until) params.set("until", state.until);
  return params.toString();
}

async function open(code) {
  const data = await getJSON(`/api/v1/coverage/${encodeURIComponent(code)}?${query({ format: "geojson" })}`);
  state.data = data;
  const at = state.trail.findIndex((a) => a.code === code);
  if (at >= 0) state.trail = state.trail.slice(0, at + 1);
  else state.trail.push({ code, name: data.area.name, level_zh: data.area.level_zh });
  document.body.dataset.area = code;
  document.body.dataset.level = data.area.level;
  drawCrumbs();
  draw(true);
  showDetails(data.area);
}

function drawCrumbs() {
  const nav = $("crumbs");
  nav.replaceChildren();
  state.trail.forEach((area, i) => {
    if (i) nav.append(Object.assign(document.createElement("span"), { className: "sep", textContent: "›" }));
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: area.name });
    if (i === state.trail.length - 1) button.setAttribute("aria-current", "page");
    else button.addEventListener("click", () => guarded(() => open(area.code)));
    nav.append(button);
  });
}

function draw(fit) {
  const field = state.fields[state.field];
  const features = state.data.features;
  const scale = classesFor(field, features.map((f) => f.properties[field.name]), state.meta.indices.thresholds);
  if (areas) areas.remove();
  badges.clearLayers();
  areas = L.geoJSON(state.data, {
    style: (feature) => {
      const p = feature.properties;
      const overdue = p.tips_overdue > 0;
      return {
        className: `area area-${p.code}${overdue ? " overdue" : ""}`,
        color: overdue ? "#b10026" : "#4a5560",
        weight: overdue ? 3 : 1,
        dashArray: overdue ? "6 4" : null,
        fillColor: scale.colour(p[field.name]),
        fillOpacity: 0.78,
      };
    },
    onEachFeature: (feature, layer) => {
      const p = feature.properties;
      layer.bindTooltip(`<strong>${p.name}</strong><br>${field.zh}：${format(field, p[field.name])}`, { sticky: true });
      layer.on("mouseover", () => layer.setStyle({ weight: 3 }));
      layer.on("mouseout", () => areas.resetStyle(layer));
      layer.on("click", () => (p.level === "grid" ? showDetails(p) : guarded(() => open(p.code))));
      if (p.tips_overdue > 0) {
        const icon = L.divIcon({ className: "badge", html: `超期 ${p.tips_overdue}`, iconSize: null });
        badges.addLayer(L.marker(layer.getBounds().getCenter(), { icon, interactive: false, keyboard: false }));
      }
    },
  }).addTo(map);
  if (fit && features.length) {
    map.invalidateSize();
    // no animation: Leaflet ignores a new view asked for while a zoom animation runs (a quick second click)
    map.fitBounds(areas.getBounds(), { padding: [16, 16], animate: false });
  }
  drawLegend(field, scale, features);
}

function drawLegend(field, scale, features) {
  const box = legend.getContainer();
  box.replaceChildren();
  const indexName = features.length ? features[0].properties.index_zh : null;
  const title = field.name === "index_value" ? `${indexName || "指数"}（红黄灰）` : field.zh;
  box.append(Object.assign(document.createElement("h3"), { textContent: title }));
  const list = document.createElement("ul");
  scale.classes.forEach((c, i) => {
    const item = document.createElement("li");
    item.dataset.color = c.color;
    item.dataset.class = String(i);
    item.innerHTML = `<i style="background:${c.color}"></i>${c.label}`;
    list.append(item);
  });
  const missing = features.some((f) => f.properties[field.name] === null || f.properties[field.name] === undefined);
  if (missing) {
    const item = document.createElement("li");
    item.dataset.color = NO_DATA;
    item.innerHTML = `<i style="background:${NO_DATA}"></i>无数据`;
    list.append(item);
  }
  const overdue = document.createElement("li");
  overdue.className = "overdue-item";
  overdue.innerHTML = "<i></i>有超期线索";
  list.append(overdue);
  box.append(list);
}

function showDetails(p) {
  $("details").hidden = false;
  $("details").dataset.code = p.code;
  $("details-title").textContent = `${p.name}（${p.level_zh}）`;
  const index = $("details-index");
  index.replaceChildren();
  if (p.index) {
    const chip = Object.assign(document.createElement("span"), {
      className: `chip ${p.index_class}`,
      textContent: p.index_class_zh,
    });
    index.append(`${p.index_zh}：${format({ kind: "index" }, p.index_value)} `, chip);
  }
  const table = $("details-table");
  table.replaceChildren();
  for (const field of state.meta.fields) {
    if (!(field.name in p) || field.kind === "text" || field.name === "index_value") continue;
    const row = table.insertRow();
    row.dataset.field = field.name;
    if (field.name === "tips_overdue" && p.tips_overdue > 0) row.className = "alert";
    row.append(Object.assign(document.createElement("th"), { textContent: field.zh, title: field.en }));
    row.insertCell().textContent = format(field, p[field.name]);
  }
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("login-error").textContent = "";
  login(form.get("phone").trim(), form.get("password"))
    .then(() => guarded(boot))
    .catch((error) => ($("login-error").textContent = error.message));
});
$("logout").addEventListener("click", () => logout().then(() => showLogin()));
$("indicator").addEventListener("change", (event) => {
  state.field = event.target.value;
  draw(false);
});
$("apply-range").addEventListener("click", () => {
  state.since = $("since").value;
  state.until = $("until").value;
  guarded(() => open(state.trail[state.trail.length - 1].code));
});
$("clear-range").addEventListener("click", () => {
  $("since").value = $("until").value = "";
  state.since = state.until = "";
  guarded(() => open(state.trail[state.trail.length - 1].code));
});
for (const format_ of ["csv", "geojson"]) {
  $(`export-${format_}`).addEventListener("click", () =>
    guarded(() => {
      const code = state.trail[state.trail.length - 1].code;
      return download(`/api/v1/coverage/${encodeURIComponent(code)}?${query({ format: format_ })}`, `coverage.${format_}`);
    }),
  );
}

window.coverageMap = { state, map }; // for tests and the browser console
if (hasSession()) guarded(boot);
else showLogin();
