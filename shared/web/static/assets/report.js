// report.js: the report form the QR codes open (/r district-wide,
// /r/{gridCode} for one grid).
import {
  el, clear, request, ApiError, errorWords, reasonWords, showFieldErrors, riskText,
  pageGrid, districtDay, addDays, narrow, loadAreas, idNumberProblem, phoneProblem,
} from "./gc.js";

const form = document.getElementById("report");
// Inputs by name ("name" would be the form's own property).
const field = (name) => form.elements.namedItem(name);
const stops = document.getElementById("stops");
const general = document.getElementById("form-error");
const MAX_STOPS = 30; // report.MaxStops
const ITINERARY_DAYS = 7;

let areas = { provinces: [] };
// reportGrid is the grid the report goes to: the scanned code's, or none.
let reportGrid = pageGrid;

// areaPicker is province → city → county; its value is the county code.
function areaPicker(idPrefix) {
  const province = el("select", { id: `${idPrefix}-province`, attrs: { "aria-label": "省" } },
    el("option", { value: "", text: "省份" }),
    areas.provinces.map((p, i) => el("option", { value: String(i), text: p.name })));
  const city = el("select", { id: `${idPrefix}-city`, disabled: true, attrs: { "aria-label": "市" } }, el("option", { value: "", text: "城市" }));
  const county = el("select", { id: `${idPrefix}-county`, class: "county", disabled: true, attrs: { "aria-label": "县(区)" } }, el("option", { value: "", text: "县(区)" }));
  province.addEventListener("change", () => {
    const p = areas.provinces[province.value];
    clear(city, el("option", { value: "", text: "城市" }), (p?.cities ?? []).map((c, i) => el("option", { value: String(i), text: c.name })));
    clear(county, el("option", { value: "", text: "县(区)" }));
    city.disabled = !p;
    county.disabled = true;
    // A city with one county (or a province with one city) needs no second pick.
    if (p && p.cities.length === 1) { city.value = "0"; city.dispatchEvent(new Event("change")); }
  });
  city.addEventListener("change", () => {
    const c = areas.provinces[province.value]?.cities[city.value];
    clear(county, el("option", { value: "", text: "县(区)" }), (c?.counties ?? []).map((k) => el("option", { value: k.code, text: k.name })));
    county.disabled = !c;
  });
  return el("div", { class: "row area-picker" }, province, city, county);
}

function pickedArea(picker) {
  return picker.querySelector("select.county").value;
}

// stopDays are the itinerary's days: the arrival day and the six before.
function stopDays() {
  const arrival = field("arrivalDate").value || districtDay();
  return Array.from({ length: ITINERARY_DAYS }, (_, i) => addDays(arrival, -i));
}

function refreshStopDays() {
  const days = stopDays();
  for (const sel of stops.querySelectorAll("select.stop-date")) {
    const keep = sel.value;
    clear(sel, days.map((d) => el("option", { value: d, text: d })));
    sel.value = days.includes(keep) ? keep : days[0];
  }
}

// stopSeq names each stop's controls uniquely, however many were deleted.
let stopSeq = 0;

function addStop() {
  const i = stops.children.length;
  if (i >= MAX_STOPS) return;
  const id = `stop${stopSeq++}`;
  const date = el("select", { class: "stop-date", id: `${id}-date`, attrs: { "aria-label": "日期" } });
  const stop = el("div", { class: "stop field" },
    el("div", { class: "row" }, date,
      el("button", { type: "button", class: "secondary remove-stop", text: "删除", on: { click: () => { stop.remove(); renumberStops(); } } })),
    areaPicker(id),
    el("span", { dataset: { errorFor: `itinerary[${i}].date` } }),
    el("span", { dataset: { errorFor: `itinerary[${i}].areaCode` } }));
  stops.append(stop);
  refreshStopDays();
  date.value = stopDays()[Math.min(i, ITINERARY_DAYS - 1)];
}

// renumberStops keeps the error slots in step with the API's indexes.
function renumberStops() {
  [...stops.children].forEach((stop, i) => {
    const [dateSlot, areaSlot] = stop.querySelectorAll("[data-error-for]");
    dateSlot.dataset.errorFor = `itinerary[${i}].date`;
    areaSlot.dataset.errorFor = `itinerary[${i}].areaCode`;
  });
}

function limitArrivalDate() {
  const today = districtDay();
  const planned = field("arrivalStatus").value === "planned";
  field("arrivalDate").min = planned ? today : addDays(today, -14);
  field("arrivalDate").max = planned ? addDays(today, 30) : today;
}

function submission() {
  return {
    name: field("name").value,
    idType: field("idType").value,
    idNumber: field("idNumber").value,
    phone: field("phone").value,
    arrivalStatus: field("arrivalStatus").value,
    arrivalDate: field("arrivalDate").value,
    fromAreaCode: pickedArea(document.querySelector("#from .area-picker")),
    itinerary: itinerary(),
    destination: { community: field("community").value, address: field("address").value },
    transport: field("transport").value,
  };
}

// itinerary is every stop on the screen, in order, so the API's
// itinerary[i] is the i-th stop shown; the one untouched first stop of
// someone who came straight here is no itinerary at all.
function itinerary() {
  const all = [...stops.children].map((stop) => ({ date: stop.querySelector("select.stop-date").value, areaCode: pickedArea(stop) }));
  return all.length === 1 && all[0].areaCode === "" ? [] : all;
}

// clientProblems are what the API would refuse, found before sending.
function clientProblems(s) {
  const problems = [];
  const add = (field, reason) => reason && problems.push({ field, reason });
  if (s.name.trim() === "") add("name", "required");
  if (s.idType === "resident_id") add("idNumber", idNumberProblem(s.idNumber));
  else if (s.idNumber.trim() === "") add("idNumber", "required");
  add("phone", phoneProblem(s.phone));
  if (s.arrivalDate === "") add("arrivalDate", "required");
  if (s.fromAreaCode === "") add("fromAreaCode", "required");
  if (s.destination.address.trim() === "") add("destination.address", "required");
  s.itinerary.forEach((stop, i) => stop.areaCode === "" && add(`itinerary[${i}].areaCode`, "unknown_area"));
  return problems;
}

function showResult(receipt, s) {
  const p = narrow(s.phone).replace(/\D/g, "").slice(-11);
  const result = document.getElementById("result");
  clear(result,
    el("h1", { text: receipt.duplicate ? "您已报备过" : "报备成功" }),
    el("p", {}, "风险等级:", el("span", { class: `level risk-${receipt.riskLevel}`, id: "risk-level", text: riskText[receipt.riskLevel] ?? receipt.riskLevel })),
    el("p", { id: "guidance", text: receipt.guidance }),
    el("p", { class: "muted", text: receipt.duplicate
      ? "同一证件同一抵达日期只需报备一次,短信已按第一次报备发送。"
      : `以上提示将以短信发送至 ${p.slice(0, 3)}****${p.slice(7)}。社区工作人员将与您联系。` }),
    el("p", { class: "muted" }, "报备编号:", el("code", { id: "report-id", text: receipt.reportId })));
  result.hidden = false;
  form.hidden = true;
  result.scrollIntoView();
}

async function submit(ev) {
  ev.preventDefault();
  const s = submission();
  const problems = clientProblems(s);
  general.textContent = "";
  if (showFieldErrors(form, problems, general) > 0) {
    form.querySelector(".invalid input, .invalid select")?.focus();
    return;
  }
  const button = document.getElementById("submit");
  button.disabled = true;
  try {
    const path = reportGrid ? `/v1/grids/${encodeURIComponent(reportGrid)}/reports` : "/v1/reports";
    showResult(await request(path, { method: "POST", body: s, auth: false }), s);
  } catch (err) {
    if (err instanceof ApiError && err.fields.length) showFieldErrors(form, err.fields, general);
    if (!general.textContent) general.textContent = errorWords(err);
  } finally {
    button.disabled = false;
  }
}

async function start() {
  let grids = [];
  try {
    [areas, grids] = await Promise.all([loadAreas(), request("/v1/grids", { auth: false })]);
  } catch (err) {
    general.textContent = errorWords(err);
    return;
  }
  document.querySelector("#from .area-picker").replaceWith(areaPicker("from"));
  const communities = [...new Set(grids.map((g) => g.community))].sort((a, b) => a.localeCompare(b, "zh-CN"));
  field("community").append(...communities.map((c) => el("option", { value: c, text: c })));
  if (pageGrid) {
    const grid = grids.find((g) => g.gridCode === pageGrid);
    const line = document.getElementById("grid-line");
    if (!grid) {
      // An old poster still lets the person report: to the district, routed
      // by the community they pick.
      reportGrid = "";
      line.className = "error";
      line.textContent = "此网格码已停用。您仍可在此报备,请选择入住社区,报备将转交所在网格。";
    } else {
      line.textContent = `${grid.town} · ${grid.community} · ${grid.name}:请如实填写近7天行程,提交后将收到短信提示。`;
      field("community").value = grid.community;
    }
  }
  field("arrivalDate").value = districtDay();
  limitArrivalDate();
  addStop();
  for (const r of form.querySelectorAll("input[name=arrivalStatus]")) r.addEventListener("change", limitArrivalDate);
  field("arrivalDate").addEventListener("change", refreshStopDays);
  document.getElementById("add-stop").addEventListener("click", addStop);
  // Mark a typo when the person leaves the field, not only on submit.
  field("idNumber").addEventListener("blur", () => markOne("idNumber", field("idType").value === "resident_id" ? idNumberProblem : () => ""));
  field("phone").addEventListener("blur", () => markOne("phone", phoneProblem));
  form.addEventListener("submit", submit);
  form.dataset.ready = "true";
}

// markOne checks one filled-in field as the person leaves it.
function markOne(name, problem) {
  const value = field(name).value;
  const reason = value.trim() === "" ? "" : problem(value);
  const slot = form.querySelector(`[data-error-for="${name}"]`);
  slot.textContent = reason ? reasonWords(reason, name) : "";
  slot.closest(".field").classList.toggle("invalid", reason !== "");
}

start();
