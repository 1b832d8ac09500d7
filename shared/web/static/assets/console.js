// console.js: 网格员工作台. A grid worker (or the district office, for any
// grid it picks) sees the grid's reports, the most urgent first, records
// what was done about each, knocks at doors for the reconciliation's tasks
// and searches the registry. Personal data is shown as the API gives it
// (masked), and every node is built with el(): a name like
// <script>alert(1)</script> shows as text.
import {
  el, clear, request, ApiError, token, staffLogin, showFieldErrors, errorWords, reasonWords,
  riskText, statusText, districtDay, districtTime, field, loadAreas, areaName, idTypeText, UNASSIGNED, gridLabel,
} from "./gc.js";

const app = document.getElementById("app");
const gridList = document.getElementById("cs-grids");
const enc = encodeURIComponent;
const GRID_KEY = "gc.console.grid";
// OPEN_PAGES bounds what one status of open reports reads (pages of 200,
// newest first); the overdue ones beyond it are read one by one.
const OPEN_PAGES = 10;
const PAGE_SIZE = 200;
const FETCH_AT_ONCE = 6;

// Words of this page.
const outcomeText = { contacted: "已联系本人", tested: "已完成核酸检测", unreachable: "未联系上", wrong_grid: "非本网格,转出", closed: "办结" };
const escalationText = { overdue: "已逾期", community: "逾期·已报社区", district: "逾期·已报区指挥部" };
const arrivalText = { arrived: "已抵达", planned: "计划抵达" };
const transportText = { car: "自驾", train: "火车", plane: "飞机", bus: "大巴", ship: "轮船", other: "其他" };
const routedText = { grid_code: "扫网格码", community: "按社区分派", unassigned: "待分配" };
const taskStatusText = { open: "待核查", revisit: "待复访", closed: "已完成" };
const visitText = { verified: "核实在住", not_home_note_left: "不在家,已留联系卡", moved_out: "已搬离", new_person_found: "发现未登记人员" };
const listKindText = { registry: "人口底册", nat: "核酸名单", residence_code: "粤居码名单", venue_code: "场所码名单", other: "其他名单" };
const residentText = { permanent: "常住", floating: "流动", outsider: "外来" };
const matchedText = { name: "姓名", pinyin: "拼音", initials: "首字母", community: "社区", street: "街巷", houseNumber: "门牌号", phoneLast4: "手机尾号", idLast4: "证件尾号" };
const fieldText = {
  outcome: "结果", note: "备注", toGrid: "转至网格", notePhone: "联系卡电话", revisitOn: "复访日期", remark: "备注",
  query: "查询条件", name: "姓名", community: "社区", address: "地址", phoneLast4: "手机后四位", idLast4: "证件后四位",
  limit: "条数", nextToken: "翻页", status: "状态", corrected: "更正信息", newPerson: "新发现人员", idType: "证件类型",
  idNumber: "证件号码", phone: "手机号", residentType: "人员类型", landlordPhone: "房东电话", town: "街道",
};
// Reasons said better for one field of this page.
const fieldReason = {
  "outcome:required": "请选择结果", "outcome:unknown": "请选择结果", "toGrid:unknown": "没有这个网格编码",
  "toGrid:required": "请填写转至的网格编码", "note:required": "转出时请写明原因",
  "notePhone:required": "请填写留在联系卡上的手机号", "notePhone:invalid": "请填写11位手机号",
  "query:required": "请至少填写姓名、手机后四位或证件后四位之一", "community:unknown": "没有这个社区",
  "community:required": "按地址查询时请填写社区", "phoneLast4:invalid": "请填写4位数字", "idLast4:invalid": "请填写证件号码最后4位",
};
const codeMore = {
  too_many_follow_ups: "跟进记录已满,请办结此报备",
  already_closed: "已办结,不能再登记",
  invalid_query: "请修改标出的内容",
};

const problemWords = (p) => fieldReason[`${p.field}:${p.reason}`] ?? reasonWords(p.reason, p.field);
const fieldLabel = (f) => f.split(".").map((part) => fieldText[part] ?? part).join("·");
function failWords(err) {
  if (err instanceof ApiError && codeMore[err.code] && !(err.code === "invalid_query" && !err.fields.length)) return codeMore[err.code];
  return errorWords(err);
}

// What the page holds.
const S = {
  me: null,
  grid: "", // the grid worked on
  own: [], // a grid worker's grids
  grids: new Map(), // code → {gridCode, name, community, town}
  areas: null, // the county table, GET /v1/areas
  reports: { filter: "open", list: [], escalation: new Map(), next: "", open: "", note: null, more: false, missed: 0 },
  tasks: { closed: false, list: [], next: "", open: "", note: null },
};
const panes = {};
const tabButtons = {};
const loaded = {};
// seq numbers each load of a tab: an answer to an older one (another grid,
// filter or refresh since) is dropped.
const seq = { reports: 0, tasks: 0 };

staffLogin(app, ["grid_worker", "district_admin"], start);

async function start(me) {
  S.me = me;
  const [grids, areas] = await Promise.allSettled([request("/v1/grids"), loadAreas()]);
  if (grids.status === "fulfilled") {
    for (const g of grids.value) S.grids.set(g.gridCode, g);
    clear(gridList, el("option", { value: UNASSIGNED, text: gridLabel(UNASSIGNED) }),
      grids.value.map((g) => el("option", { value: g.gridCode, text: `${g.community} ${g.name}` })));
  }
  if (areas.status === "fulfilled") S.areas = areas.value;
  const kept = sessionStorage.getItem(GRID_KEY) ?? "";
  if (me.role === "grid_worker") {
    // A worker may have several grids; the one picked last stays picked.
    S.own = me.grids?.length ? me.grids : (me.grid ? [me.grid] : []);
    S.grid = S.own.includes(kept) ? kept : (S.own[0] ?? "");
  } else S.grid = kept;

  const head = el("section", { class: "card cs-head", id: "cs-head" });
  const tabs = el("div", { class: "tabs cs-tabs", role: "tablist" });
  for (const [name, text] of [["reports", "报备"], ["tasks", "任务"], ["search", "查询"]]) {
    panes[name] = el("section", { id: `pane-${name}`, role: "tabpanel", attrs: { "aria-labelledby": `tab-${name}` }, hidden: true });
    tabButtons[name] = el("button", { type: "button", id: `tab-${name}`, role: "tab", text,
      attrs: { "aria-selected": "false", "aria-controls": `pane-${name}` }, on: { click: () => show(name) } });
    tabs.append(tabButtons[name]);
  }
  clear(app, head, tabs, panes.reports, panes.tasks, panes.search);
  // The tabs stay in reach below the page's bar, whatever its height.
  const bar = document.querySelector(".bar");
  if (bar) {
    const stick = () => {
      tabs.style.top = `${bar.offsetHeight}px`;
      document.documentElement.style.scrollPaddingTop = `${bar.offsetHeight + tabs.offsetHeight + 8}px`;
    };
    new ResizeObserver(stick).observe(bar);
    stick();
  }
  renderHead(head);
  const first = location.hash.slice(1);
  show(panes[first] ? first : "reports");
}

// show switches to a tab and loads it the first time.
function show(name) {
  for (const [n, b] of Object.entries(tabButtons)) {
    b.setAttribute("aria-selected", String(n === name));
    panes[n].hidden = n !== name;
  }
  history.replaceState(null, "", "#" + name);
  if (!loaded[name]) {
    loaded[name] = true;
    ({ reports: loadReports, tasks: loadTasks, search: buildSearch })[name]();
  }
}

// gridChanged reloads the tabs for the grid picked.
function gridChanged(code) {
  S.grid = code;
  sessionStorage.setItem(GRID_KEY, code);
  S.reports = { ...S.reports, list: [], escalation: new Map(), open: "", note: null, more: false, missed: 0 };
  S.tasks = { ...S.tasks, list: [], open: "", note: null };
  // Whatever the old grid's loads answer now is dropped.
  seq.reports++;
  seq.tasks++;
  for (const k of Object.keys(loaded)) loaded[k] = false;
  const current = Object.keys(tabButtons).find((n) => tabButtons[n].getAttribute("aria-selected") === "true");
  show(current ?? "reports");
}

function gridName(code) {
  const g = S.grids.get(code);
  return gridLabel(code, g && `${g.community} · ${g.name}`);
}
const placeName = (code) => areaName(S.areas, code) || code;
const ownCommunity = () => S.grids.get(S.grid)?.community ?? "";

function renderHead(head) {
  if (S.me.role === "grid_worker" && S.own.length > 1) {
    // A worker of several grids picks among them.
    const code = el("div", { class: "muted cs-code", text: `网格编码 ${S.grid}` });
    const select = el("select", { id: "cs-grid-select", on: { change: () => {
      code.textContent = `网格编码 ${select.value}`;
      gridChanged(select.value);
    } } }, S.own.map((g) => el("option", { value: g, text: gridName(g) })));
    select.value = S.grid;
    clear(head, el("div", { class: "field" }, el("label", { for: "cs-grid-select", text: `我的网格(${S.own.length}个)` }), select), code);
    return;
  }
  if (S.me.role === "grid_worker") {
    clear(head, el("div", { class: "cs-grid-name", text: gridName(S.grid) }), el("div", { class: "muted cs-code", text: `网格编码 ${S.grid}` }));
    return;
  }
  const input = el("input", { type: "text", id: "cs-grid", value: S.grid, placeholder: "如 440703006107-01", autocomplete: "off",
    attrs: { list: "cs-grids", inputmode: "text" } });
  const msg = el("span", { attrs: { "data-error-for": "grid" } });
  const name = el("p", { class: "muted", id: "cs-grid-name", text: S.grid ? gridName(S.grid) : "区指挥部可查看任一网格" });
  const form = el("form", { class: "cs-grid-pick", on: { submit: (ev) => {
    ev.preventDefault();
    const code = input.value.trim();
    if (code !== UNASSIGNED && S.grids.size && !S.grids.has(code)) {
      msg.textContent = "没有这个网格编码";
      form.querySelector(".field").classList.add("invalid");
      return;
    }
    msg.textContent = "";
    form.querySelector(".field").classList.remove("invalid");
    name.textContent = gridName(code);
    gridChanged(code);
  } } },
  el("div", { class: "field" }, el("label", { for: "cs-grid", text: "网格编码" }),
    el("div", { class: "cs-inline" }, input, el("button", { type: "submit", text: "查看" })), msg), name);
  clear(head, form);
}

function needGrid(pane) {
  clear(pane, el("p", { class: "card muted", text: "请先在上方输入网格编码。" }));
}

// notice is a line that says what just happened, or what failed; a lost
// login offers to log in again.
function notice(err) {
  if (err instanceof ApiError && err.status === 401) {
    return el("div", { class: "card error", role: "alert" }, errorWords(err), " ",
      el("button", { type: "button", class: "secondary", text: "重新登录", on: { click: () => { token.clear(); location.reload(); } } }));
  }
  return el("p", { class: "error", role: "alert", text: failWords(err) });
}

// showProblems writes the API's field problems next to their fields with
// gc.js's showFieldErrors, in this page's words. It does more than that,
// so it stays: a refusal without field problems shows as the notice (with
// 重新登录 for a lost login), problems without a place are named in words
// (转至网格, not toGrid), and the first marked field gets the focus.
function showProblems(form, err, general) {
  const problems = err instanceof ApiError ? err.fields : [];
  showFieldErrors(form, problems, null, problemWords);
  const rest = problems.filter((p) => !form.querySelector(`[data-error-for="${CSS.escape(p.field)}"]`));
  if (!problems.length) clear(general, notice(err));
  else clear(general, rest.length ? rest.map((p) => `${fieldLabel(p.field)}:${problemWords(p)}`).join(";") : "请修改标出的内容");
  form.querySelector(".invalid input, .invalid textarea, .invalid select")?.focus();
}

function resetProblems(form, general) {
  showFieldErrors(form, [], null);
  clear(general);
}

// span of the time between now and iso, in words; late when past.
function span(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  const minutes = Math.max(1, Math.round(Math.abs(ms) / 60000));
  const d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
  const words = d ? `${d} 天${h ? ` ${h} 小时` : ""}` : h ? `${h} 小时${m ? ` ${m} 分` : ""}` : `${m} 分钟`;
  return { late: ms < 0, words };
}

const line = (label, ...value) => el("div", { class: "cs-line" }, el("span", { class: "cs-label", text: label }), ...value);
const badge = (cls, text) => el("span", { class: `badge ${cls}`, text });

// choices is a group of radio buttons, one per [value, words].
function choices(name, options, field) {
  return el("fieldset", { class: "field cs-fieldset" },
    el("legend", { text: fieldText[field] }),
    el("div", { class: "cs-choices" }, options.map(([value, text]) => {
      const id = `${name}-${value}`;
      return el("label", { for: id, class: "cs-choice" }, el("input", { type: "radio", id, name, value }), el("span", { text }));
    })),
    el("span", { attrs: { "data-error-for": field } }));
}

// hint is a line of help below a field's input.
const hint = (text) => el("div", { class: "muted", text });

// ---- 报备: the grid's reports ----

// overdue: open, nobody reached yet, and the deadline passed (or the API's
// overdue list has it: a welcome SMS that failed makes the call due now).
function overdue(v) {
  if (v.status === "closed" || v.firstContactAt) return false;
  return S.reports.escalation.has(v.reportId) || new Date(v.contactDue).getTime() < Date.now();
}

// rank orders the open reports: overdue, then high risk, then those
// nobody reached yet, then the ones in progress.
function rank(v) {
  if (overdue(v)) return 0;
  if (v.riskLevel === "high") return 1;
  return v.status === "new" ? 2 : 3;
}

function sortReports(list) {
  const esc = { district: 0, community: 1, overdue: 2 };
  return list.sort((a, b) => rank(a) - rank(b)
    || (rank(a) === 0 ? (esc[S.reports.escalation.get(a.reportId)] ?? 3) - (esc[S.reports.escalation.get(b.reportId)] ?? 3) : 0)
    || new Date(a.contactDue) - new Date(b.contactDue)
    || a.reportId.localeCompare(b.reportId));
}

// readAll reads a grid's open reports of one status, newest first, at most
// OPEN_PAGES pages; more says some older ones were left unread.
async function readAll(grid, status) {
  const out = [];
  let next = "";
  for (let i = 0; i < OPEN_PAGES; i++) {
    const q = new URLSearchParams({ status, limit: String(PAGE_SIZE) });
    if (next) q.set("nextToken", next);
    const page = await request(`/v1/grids/${enc(grid)}/reports?${q}`);
    out.push(...page.reports);
    next = page.nextToken ?? "";
    if (!next) break;
  }
  return { reports: out, more: Boolean(next) };
}

// readMissing reads, FETCH_AT_ONCE at a time, the overdue reports the
// pages did not bring (the oldest, past the newest 2,000 of a status). It
// keeps those still open in the grid; missed counts those it could not
// read (one that left the grid meanwhile is not missed).
async function readMissing(grid, ids) {
  const found = [];
  let missed = 0;
  let at = 0;
  const worker = async () => {
    while (at < ids.length) {
      const id = ids[at++];
      try {
        const v = await request(`/v1/reports/${enc(id)}`);
        if (v.gridCode === grid && v.status !== "closed") found.push(v);
      } catch (err) {
        if (!(err instanceof ApiError && (err.status === 403 || err.status === 404))) missed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FETCH_AT_ONCE, ids.length) }, worker));
  return { found, missed };
}

async function loadReports(more = false) {
  const pane = panes.reports;
  if (!S.grid) return needGrid(pane);
  const mine = ++seq.reports;
  const grid = S.grid;
  const r = S.reports;
  if (!more) {
    clear(pane, reportsToolbar(), el("p", { class: "muted", id: "reports-loading", text: "加载中…" }));
  }
  try {
    if (r.filter === "open") {
      const [fresh, going, due] = await Promise.all([readAll(grid, "new"), readAll(grid, "in_progress"),
        request(`/v1/grids/${enc(grid)}/followups/overdue`)]);
      if (mine !== seq.reports) return;
      const list = [...fresh.reports, ...going.reports];
      const listed = new Set(list.map((v) => v.reportId));
      const extra = await readMissing(grid, due.overdue.map((d) => d.reportId).filter((id) => !listed.has(id)));
      if (mine !== seq.reports) return;
      r.escalation = new Map(due.overdue.map((d) => [d.reportId, d.escalation]));
      r.list = sortReports([...list, ...extra.found]);
      r.more = fresh.more || going.more;
      r.missed = extra.missed;
      r.next = "";
    } else {
      const q = new URLSearchParams({ status: "closed", limit: "50" });
      if (more && r.next) q.set("nextToken", r.next);
      const page = await request(`/v1/grids/${enc(grid)}/reports?${q}`);
      if (mine !== seq.reports) return;
      r.list = more ? [...r.list, ...page.reports] : page.reports;
      r.next = page.nextToken ?? "";
    }
  } catch (err) {
    if (mine !== seq.reports) return;
    clear(pane, reportsToolbar(), notice(err));
    return;
  }
  renderReports();
}

function reportsToolbar() {
  const r = S.reports;
  const pick = (filter, text) => el("button", { type: "button", class: "secondary", text, dataset: { filter },
    attrs: { "aria-pressed": String(r.filter === filter) },
    on: { click: () => { r.filter = filter; r.open = ""; r.note = null; loadReports(); } } });
  return el("div", { class: "cs-toolbar" },
    el("div", { class: "cs-segments" }, pick("open", "待办"), pick("closed", "已办结")),
    el("button", { type: "button", class: "secondary", id: "reports-refresh", text: "刷新", on: { click: () => loadReports() } }));
}

function renderReports() {
  const r = S.reports;
  const pane = panes.reports;
  let summary;
  if (r.filter === "open") {
    const n = { late: 0, high: 0, fresh: 0, going: 0 };
    for (const v of r.list) {
      if (overdue(v)) n.late++;
      if (v.riskLevel === "high") n.high++;
      if (v.status === "new") n.fresh++; else n.going++;
    }
    const counts = `逾期 ${n.late} · 高风险 ${n.high} · 待联系 ${n.fresh} · 跟进中 ${n.going}`;
    // Past OPEN_PAGES pages of a status the older reports are not read, but
    // the overdue ones are: the counts are of what is listed.
    if (r.more) summary = `待办较多,列出 ${r.list.length} 条(每种状态最近的 ${OPEN_PAGES * PAGE_SIZE} 条及全部逾期的):${counts}`;
    else summary = r.list.length ? `待办 ${r.list.length} 条:${counts}` : "暂无待办报备";
    if (r.missed) summary += `;另有 ${r.missed} 条逾期报备未能读取,请点刷新`;
  } else {
    summary = r.list.length ? `已办结 ${r.list.length} 条${r.next ? ",还有更多" : ""}` : "暂无已办结报备";
  }
  const list = el("ul", { class: "list cs-list", id: "reports" }, r.list.map(reportItem));
  clear(pane, reportsToolbar(),
    el("p", { class: "cs-summary", id: "reports-summary", role: "status", text: summary }),
    r.note && !r.list.some((v) => v.reportId === r.note.id) ? el("p", { class: "ok cs-note", role: "status", text: r.note.text }) : null,
    list,
    r.filter === "closed" && r.next ? el("button", { type: "button", class: "secondary cs-more", text: "加载更多", on: { click: () => loadReports(true) } }) : null);
}

function reportItem(v) {
  const r = S.reports;
  const late = overdue(v);
  const open = r.open === v.reportId;
  const esc = S.reports.escalation.get(v.reportId);
  const li = el("li", { class: `cs-item${late ? " overdue" : ""}${open ? " cs-open" : ""}`, dataset: { reportId: v.reportId } });
  const head = el("div", { class: "cs-item-head" },
    el("strong", { class: "cs-name", text: v.person.name }),
    badge(`risk-${v.riskLevel}`, riskText[v.riskLevel] ?? v.riskLevel),
    badge(`cs-status-${v.status}`, statusText[v.status] ?? v.status),
    late ? badge("red cs-late", escalationText[esc] ?? "已逾期") : null);
  let deadline;
  if (v.status === "closed") deadline = line("办结", v.closedAt ? districtTime(v.closedAt) : "");
  else if (v.firstContactAt) deadline = line("首次联系", districtTime(v.firstContactAt));
  else {
    const s = span(v.contactDue);
    deadline = line("联系时限", el("span", { class: late ? "error" : "", text: `${districtTime(v.contactDue)}(${s.late ? "已超过" : "还剩"} ${s.words})` }));
  }
  const from = v.fromAreaCode ? placeName(v.fromAreaCode) : "";
  li.append(head,
    el("div", { class: "cs-meta" },
      line("电话", el("span", { class: "cs-nowrap", text: v.person.phone })),
      v.person.idNumber ? line("证件", el("span", { class: "cs-nowrap", text: v.person.idNumber })) : null,
      line(arrivalText[v.arrivalStatus] ?? "抵达", v.arrivalDate, from ? ` · 来自 ${from}` : ""),
      line("住址", [v.community, v.person.address].filter(Boolean).join(" ")),
      deadline,
      v.followUp === "sms_undelivered_call" ? el("div", { class: "error", text: "短信未送达,请电话联系" }) : null),
    el("div", { class: "cs-actions" },
      el("button", { type: "button", class: open ? "secondary cs-toggle" : "cs-toggle", text: open ? "收起" : (v.status === "closed" ? "查看" : "跟进"),
        attrs: { "aria-expanded": String(open) },
        on: { click: () => { r.open = open ? "" : v.reportId; r.note = null; renderReports(); if (!open) focusItem("reports", v.reportId); } } })));
  if (open) li.append(reportDetail(v));
  return li;
}

function focusItem(list, id) {
  const li = document.querySelector(`#${list} > li[data-${list === "reports" ? "report" : "task"}-id="${CSS.escape(id)}"]`);
  li?.scrollIntoView({ block: "nearest" });
}

function reportDetail(v) {
  const r = S.reports;
  const box = el("div", { class: "cs-detail" });
  const stops = (v.itinerary ?? []).slice().sort((a, b) => a.date.localeCompare(b.date));
  box.append(
    el("h3", { text: "近7天行程" }),
    stops.length
      ? el("ul", { class: "cs-history" }, stops.map((s) => el("li", {}, `${s.date} ${placeName(s.areaCode)}`,
        v.riskMatches.some((m) => m.areaCode === s.areaCode && m.date === s.date) ? el("span", { class: "error", text: "(风险区)" }) : null)))
      : el("p", { class: "muted", text: "未填写行程" }),
    el("div", { class: "cs-meta" },
      line("提交", districtTime(v.submittedAt), ` · ${routedText[v.routedBy] ?? v.routedBy}`),
      v.transport ? line("交通", transportText[v.transport] ?? v.transport) : null),
    el("h3", { text: "跟进记录" }),
    v.followUps.length
      ? el("ul", { class: "cs-history", id: `followups-${v.reportId}` }, v.followUps.map((f) => el("li", {},
        el("span", { class: "muted", text: `${districtTime(f.at)} ` }),
        el("strong", { text: outcomeText[f.outcome] ?? f.outcome }),
        f.toGrid ? ` → ${gridName(f.toGrid)}` : "",
        f.note ? el("div", { class: "cs-note-text", text: f.note }) : null)))
      : el("p", { class: "muted", id: `followups-${v.reportId}`, text: "暂无跟进记录" }));
  if (r.note?.id === v.reportId) box.append(el("p", { class: "ok", role: "status", text: r.note.text }));
  if (v.status !== "closed") box.append(followUpForm(v));
  return box;
}

function followUpForm(v) {
  const id = v.reportId;
  const general = el("div", { class: "error", role: "alert" });
  const toGrid = el("input", { type: "text", id: `fu-${id}-toGrid`, name: "toGrid", autocomplete: "off", placeholder: "如 440703006107-02", attrs: { list: "cs-grids" } });
  const note = el("textarea", { id: `fu-${id}-note`, name: "note", rows: 2, maxLength: 200, placeholder: "如:已电话联系,3日内完成核酸" });
  const moveBox = el("div", { class: "cs-move", hidden: true },
    field("转至网格", toGrid, "toGrid", hint(`不清楚归属时填 ${UNASSIGNED},交回区指挥部分派`)));
  const submit = el("button", { type: "submit", text: "提交跟进" });
  const form = el("form", { class: "cs-form", dataset: { reportId: id }, novalidate: true, on: {
    change: () => { moveBox.hidden = form.elements[`fu-${id}`]?.value !== "wrong_grid"; },
    submit: async (ev) => {
      ev.preventDefault();
      if (submit.disabled) return; // being sent, or recorded already
      resetProblems(form, general);
      const outcome = form.elements[`fu-${id}`]?.value ?? "";
      const body = { outcome };
      if (note.value.trim()) body.note = note.value.trim();
      if (outcome === "wrong_grid") body.toGrid = toGrid.value.trim();
      submit.disabled = true;
      const grid = S.grid;
      let rec;
      try {
        rec = await request(`/v1/reports/${enc(id)}/followups`, { method: "POST", body });
      } catch (err) {
        submit.disabled = false;
        showProblems(form, err, general);
        // Someone else changed it: show the report as it is now.
        if (err instanceof ApiError && (err.code === "changed_meanwhile" || err.code === "already_closed")) {
          refreshReport(id).catch(() => {});
        }
        return;
      }
      // Recorded: from here on this form is not sent again, whatever the
      // refresh below does (a second send would record it twice).
      if (S.grid !== grid) return; // another grid is shown now
      try {
        await afterFollowUp(v, rec, outcome);
      } catch {
        clear(general, el("span", { class: "ok", text: `已登记:${outcomeText[outcome] ?? outcome}。` }), "刷新失败,请点刷新");
      }
    } } },
  el("h3", { text: "登记跟进" }),
  choices(`fu-${id}`, Object.entries(outcomeText), "outcome"),
  moveBox,
  field("备注", note, "note", hint("最多200字;转出时请写明原因")),
  general, submit);
  return form;
}

// afterFollowUp shows the report as it is now: moved away, closed, or
// in the list with its new follow-up.
async function afterFollowUp(v, rec, outcome) {
  const r = S.reports;
  const words = `已登记:${outcomeText[outcome] ?? outcome}`;
  if (rec.gridCode !== S.grid) {
    r.list = r.list.filter((x) => x.reportId !== v.reportId);
    r.open = "";
    r.note = { id: "", text: `${words},报备已转至 ${gridName(rec.gridCode)}` };
    return renderReports();
  }
  const fresh = await request(`/v1/reports/${enc(v.reportId)}`);
  if (S.grid !== rec.gridCode) return;
  if (fresh.status === "closed" && r.filter === "open") {
    r.list = r.list.filter((x) => x.reportId !== v.reportId);
    r.open = "";
    r.note = { id: "", text: `${words}。可在“已办结”中查看` };
  } else {
    r.list = sortReports(r.list.map((x) => (x.reportId === v.reportId ? fresh : x)));
    r.note = { id: v.reportId, text: words };
  }
  renderReports();
  focusItem("reports", v.reportId);
}

async function refreshReport(id) {
  const fresh = await request(`/v1/reports/${enc(id)}`);
  const r = S.reports;
  r.list = sortReports(r.list.map((x) => (x.reportId === id ? fresh : x)));
  renderReports();
}

// ---- 任务: door-knocking ----

function reasonOf(t) {
  const kind = t.reason?.startsWith("not_in_") ? t.reason.slice(7) : "";
  return kind ? `不在${listKindText[kind] ?? kind}中` : t.reason;
}

async function loadTasks(more = false) {
  const pane = panes.tasks;
  if (!S.grid) return needGrid(pane);
  const mine = ++seq.tasks;
  const t = S.tasks;
  if (!more) clear(pane, tasksToolbar(), el("p", { class: "muted", text: "加载中…" }));
  const q = new URLSearchParams({ limit: "50" });
  if (t.closed) q.set("closed", "true");
  if (more && t.next) q.set("nextToken", t.next);
  try {
    const page = await request(`/v1/grids/${enc(S.grid)}/tasks?${q}`);
    if (mine !== seq.tasks) return;
    t.list = more ? [...t.list, ...page.tasks] : page.tasks;
    t.next = page.nextToken ?? "";
  } catch (err) {
    if (mine !== seq.tasks) return;
    clear(pane, tasksToolbar(), notice(err));
    return;
  }
  renderTasks();
}

function tasksToolbar() {
  const t = S.tasks;
  const box = el("input", { type: "checkbox", id: "tasks-closed", checked: t.closed,
    on: { change: () => { t.closed = box.checked; t.open = ""; t.note = null; loadTasks(); } } });
  return el("div", { class: "cs-toolbar" },
    el("label", { class: "cs-check", for: "tasks-closed" }, box, "显示已完成"),
    el("button", { type: "button", class: "secondary", id: "tasks-refresh", text: "刷新", on: { click: () => loadTasks() } }));
}

function renderTasks() {
  const t = S.tasks;
  const open = t.list.filter((x) => x.status !== "closed").length;
  clear(panes.tasks, tasksToolbar(),
    el("p", { class: "cs-summary", id: "tasks-summary", role: "status",
      text: t.list.length ? `待上门 ${open} 户${t.next ? "(还有更多)" : ""}` : "暂无核查任务" }),
    t.note && !t.list.some((x) => x.taskId === t.note.id) ? el("p", { class: "ok cs-note", role: "status", text: t.note.text }) : null,
    el("ul", { class: "list cs-list", id: "tasks" }, t.list.map(taskItem)),
    t.next ? el("button", { type: "button", class: "secondary cs-more", text: "加载更多", on: { click: () => loadTasks(true) } }) : null);
}

function taskItem(task) {
  const t = S.tasks;
  const open = t.open === task.taskId;
  const ev = task.evidence ?? {};
  const today = districtDay();
  const due = task.status !== "closed" && task.dueOn && task.dueOn < today;
  const li = el("li", { class: `cs-item${due ? " overdue" : ""}${open ? " cs-open" : ""}`, dataset: { taskId: task.taskId } });
  li.append(
    el("div", { class: "cs-item-head" },
      el("strong", { class: "cs-name", text: ev.name || "(无姓名)" }),
      badge(task.status === "closed" ? "green" : task.status === "revisit" ? "yellow" : "", taskStatusText[task.status] ?? task.status),
      el("span", { class: "muted", text: reasonOf(task) })),
    el("div", { class: "cs-meta" },
      line("证件", `${idTypeText[ev.idType] ?? ev.idType ?? ""} ${ev.idNumber ?? ""}`.trim()),
      ev.phone ? line("电话", ev.phone) : null,
      line("地址", [ev.community, ev.address].filter(Boolean).join(" ") || "未知"),
      ev.place || ev.seen ? line("出现于", [ev.place, ev.seen].filter(Boolean).join(" ")) : null,
      task.status === "closed"
        ? line("结果", visitText[task.outcome] ?? task.outcome ?? "")
        : line(task.status === "revisit" ? "复访日期" : "上门期限", el("span", { class: due ? "error" : "", text: task.dueOn }))),
    el("div", { class: "cs-actions" },
      el("button", { type: "button", class: open ? "secondary cs-toggle" : "cs-toggle",
        text: open ? "收起" : task.status === "closed" ? "查看记录" : "上门登记", attrs: { "aria-expanded": String(open) },
        on: { click: () => openTask(task, open) } })));
  if (open) li.append(taskDetail(task));
  return li;
}

// openTask reads the task again (its version and history may have moved)
// and shows it with the visit form.
async function openTask(task, open) {
  const t = S.tasks;
  t.note = null;
  if (open) {
    t.open = "";
    return renderTasks();
  }
  t.open = task.taskId;
  try {
    const fresh = await request(`/v1/tasks/${enc(task.taskId)}`);
    t.list = t.list.map((x) => (x.taskId === task.taskId ? fresh : x));
  } catch (err) {
    t.note = null;
    renderTasks();
    document.querySelector(`#tasks > li[data-task-id="${CSS.escape(task.taskId)}"]`)?.append(notice(err));
    return;
  }
  renderTasks();
  focusItem("tasks", task.taskId);
}

function taskDetail(task) {
  const t = S.tasks;
  const box = el("div", { class: "cs-detail" },
    el("h3", { text: "上门记录" }),
    task.visits.length
      ? el("ul", { class: "cs-history", id: `visits-${task.taskId}` }, task.visits.map((v) => el("li", {},
        el("span", { class: "muted", text: `${districtTime(v.at)} ` }),
        el("strong", { text: visitText[v.outcome] ?? v.outcome }),
        v.notePhone ? ` · 联系卡 ${v.notePhone}` : "",
        v.revisitOn ? ` · ${v.revisitOn} 复访` : "",
        v.newPerson ? el("div", { text: `新登记:${v.newPerson.name} ${v.newPerson.idNumber} ${v.newPerson.address}` }) : null,
        v.corrected ? el("div", { text: `更正为:${v.corrected.name} ${v.corrected.idNumber} ${v.corrected.address}` }) : null,
        v.remark ? el("div", { class: "cs-note-text", text: v.remark }) : null)))
      : el("p", { class: "muted", id: `visits-${task.taskId}`, text: "尚未上门" }));
  if (t.note?.id === task.taskId) box.append(el("p", { class: "ok", role: "status", text: t.note.text }));
  if (task.status !== "closed") box.append(visitForm(task));
  return box;
}

// entryFields are a registry entry's fields typed at the door; names are
// the API's, under prefix (corrected or newPerson).
function entryFields(prefix, idp) {
  const select = (options) => el("select", {}, options.map(([v, t]) => el("option", { value: v, text: t })));
  const f = (name, label, input, help) => {
    Object.assign(input, { id: `${idp}-${name}`, name: `${prefix}.${name}` });
    return field(label, input, `${prefix}.${name}`, help ? hint(help) : null);
  };
  return el("div", { class: "cs-entry" },
    f("name", "姓名", el("input", { type: "text", maxLength: 30, autocomplete: "off" })),
    f("idType", "证件类型", select(Object.entries(idTypeText))),
    f("idNumber", "证件号码", el("input", { type: "text", maxLength: 20, autocomplete: "off" })),
    f("phone", "手机号(选填)", el("input", { type: "tel", maxLength: 20, autocomplete: "off", attrs: { inputmode: "tel" } })),
    f("community", "社区(选填)", el("input", { type: "text", maxLength: 30, placeholder: ownCommunity() }), "不填即本网格所在社区"),
    f("address", "详细地址", el("input", { type: "text", maxLength: 100, placeholder: "如 新塘里96号" })),
    f("residentType", "人员类型", select([["", "请选择"], ...Object.entries(residentText)])),
    f("landlordPhone", "房东电话(选填)", el("input", { type: "tel", maxLength: 20, autocomplete: "off", attrs: { inputmode: "tel" } })),
    el("span", { attrs: { "data-error-for": prefix } }));
}

function readEntry(form, prefix) {
  const out = {};
  for (const name of ["name", "idType", "idNumber", "phone", "community", "address", "residentType", "landlordPhone"]) {
    const v = form.elements[`${prefix}.${name}`]?.value.trim() ?? "";
    if (v || ["name", "idType", "idNumber", "address", "residentType"].includes(name)) out[name] = v;
  }
  return out;
}

function visitForm(task) {
  const id = task.taskId;
  const general = el("div", { class: "error", role: "alert" });
  const today = districtDay();
  const notHome = el("div", { class: "cs-when", hidden: true },
    field("联系卡上的手机号", el("input", { type: "tel", id: `vi-${id}-notePhone`, name: "notePhone", maxLength: 20, autocomplete: "off", attrs: { inputmode: "tel" } }), "notePhone"),
    field("复访日期(选填,默认明天)", el("input", { type: "date", id: `vi-${id}-revisitOn`, name: "revisitOn", min: today }), "revisitOn"));
  const fix = el("input", { type: "checkbox", id: `vi-${id}-fix`, name: "fix" });
  const corrected = el("div", { hidden: true }, entryFields("corrected", `vi-${id}-c`));
  const verified = el("div", { class: "cs-when", hidden: true },
    el("label", { class: "cs-check", for: `vi-${id}-fix` }, fix, "登记信息有误,需要更正"), corrected,
    el("span", { attrs: { "data-error-for": "corrected" } }));
  const newPerson = el("div", { class: "cs-when", hidden: true }, el("p", { class: "muted", text: "请登记在此居住、人口底册中没有的人员:" }),
    entryFields("newPerson", `vi-${id}-n`));
  const remark = el("textarea", { id: `vi-${id}-remark`, name: "remark", rows: 2, maxLength: 200 });
  const submit = el("button", { type: "submit", text: "提交上门结果" });
  const form = el("form", { class: "cs-form", dataset: { taskId: id }, novalidate: true, on: {
    change: () => {
      const o = form.elements[`vi-${id}`]?.value ?? "";
      notHome.hidden = o !== "not_home_note_left";
      verified.hidden = o !== "verified";
      corrected.hidden = !fix.checked;
      newPerson.hidden = o !== "new_person_found";
    },
    submit: async (ev) => {
      ev.preventDefault();
      if (submit.disabled) return; // being sent, or recorded already
      resetProblems(form, general);
      const outcome = form.elements[`vi-${id}`]?.value ?? "";
      const body = { outcome };
      if (outcome === "not_home_note_left") {
        body.notePhone = form.elements.notePhone.value.trim();
        if (form.elements.revisitOn.value) body.revisitOn = form.elements.revisitOn.value;
      }
      if (outcome === "verified" && fix.checked) body.corrected = readEntry(form, "corrected");
      if (outcome === "new_person_found") body.newPerson = readEntry(form, "newPerson");
      if (remark.value.trim()) body.remark = remark.value.trim();
      submit.disabled = true;
      const grid = S.grid;
      let fresh;
      try {
        fresh = await request(`/v1/tasks/${enc(id)}/visits`, { method: "POST", body });
      } catch (err) {
        submit.disabled = false;
        showProblems(form, err, general);
        if (err instanceof ApiError && (err.code === "changed_meanwhile" || err.code === "already_closed")) {
          request(`/v1/tasks/${enc(id)}`).then((x) => {
            S.tasks.list = S.tasks.list.map((y) => (y.taskId === id ? x : y));
            renderTasks();
          }).catch(() => {});
        }
        return;
      }
      // Recorded: the answer is the task as it is now, so nothing is read
      // again, and this form is not sent twice.
      if (S.grid === grid) afterVisit(task, fresh, outcome);
    } } },
  el("h3", { text: "登记上门结果" }),
  choices(`vi-${id}`, Object.entries(visitText), "outcome"),
  notHome, verified, newPerson,
  field("备注(选填)", remark, "remark"),
  general, submit);
  return form;
}

function afterVisit(task, fresh, outcome) {
  const t = S.tasks;
  const words = `已登记:${visitText[outcome] ?? outcome}`;
  if (fresh.status === "closed" && !t.closed) {
    t.list = t.list.filter((x) => x.taskId !== task.taskId);
    t.open = "";
    t.note = { id: "", text: `${words}。勾选“显示已完成”可查看` };
  } else {
    t.list = t.list.map((x) => (x.taskId === task.taskId ? fresh : x));
    t.note = { id: task.taskId, text: words };
  }
  renderTasks();
  focusItem("tasks", task.taskId);
}

// ---- 查询: the registry ----

function buildSearch() {
  const pane = panes.search;
  const general = el("div", { class: "error", role: "alert" });
  const results = el("div", { id: "search-results" });
  const input = (id, name, props = {}) => el("input", { type: "text", id, name, autocomplete: "off", ...props });
  const submit = el("button", { type: "submit", text: "查询" });
  const worker = S.me.role === "grid_worker";
  const form = el("form", { class: "card cs-form", id: "search", novalidate: true, on: { submit: async (ev) => {
    ev.preventDefault();
    resetProblems(form, general);
    const q = new URLSearchParams();
    for (const name of ["name", "community", "address", "phoneLast4", "idLast4"]) {
      const v = form.elements[name].value.trim();
      if (v) q.set(name, v);
    }
    submit.disabled = true;
    clear(results, el("p", { class: "muted", text: "查询中…" }));
    try {
      const found = await request(`/v1/registry/search?${q}`);
      renderFound(results, found.results ?? []);
    } catch (err) {
      clear(results);
      showProblems(form, err, general);
    } finally {
      submit.disabled = false;
    }
  } } },
  field("姓名 / 拼音 / 首字母", input("q-name", "name", { maxLength: 60, placeholder: "如 陈永健、chenyongjian、cyj" }), "name"),
  el("div", { class: "cs-cols" },
    field("社区", input("q-community", "community", { maxLength: 30, value: worker ? ownCommunity() : "", placeholder: "如 石冲" }), "community",
      hint(worker ? "可查本网格所在社区" : "不填即全区")),
    field("地址", input("q-address", "address", { maxLength: 100, placeholder: "如 长庚里96号" }), "address", hint("写错一点也能找到相近的门牌"))),
  el("div", { class: "cs-cols cs-pair" },
    field("手机后四位", input("q-phone", "phoneLast4", { maxLength: 4, attrs: { inputmode: "numeric" } }), "phoneLast4"),
    field("证件后四位", input("q-id", "idLast4", { maxLength: 4 }), "idLast4")),
  el("span", { attrs: { "data-error-for": "query" } }),
  general,
  el("div", { class: "cs-actions" }, submit,
    el("button", { type: "reset", class: "secondary", text: "清空", on: { click: () => { resetProblems(form, general); clear(results); } } })));
  clear(pane, form, results);
}

function renderFound(box, found) {
  if (!found.length) return clear(box, el("p", { class: "card muted", id: "search-none", text: "未找到,请换个写法(拼音、首字母)或只填姓名再试。" }));
  clear(box,
    el("p", { class: "cs-summary", role: "status", text: `找到 ${found.length} 人,最相符的在前` }),
    el("ul", { class: "list cs-list", id: "found" }, found.map((p) => el("li", { class: "cs-item", dataset: { personKey: p.personKey } },
      el("div", { class: "cs-item-head" },
        el("strong", { class: "cs-name", text: p.name }),
        p.residentType ? badge("", residentText[p.residentType] ?? p.residentType) : null,
        p.status === "moved_out" ? badge("yellow", "已搬离") : null),
      el("div", { class: "cs-meta" },
        line("地址", el("span", { class: "cs-address", text: [p.town, p.community, p.address].filter(Boolean).join(" ") })),
        line("证件", `${idTypeText[p.idType] ?? p.idType} ${p.idNumber}`),
        p.phone ? line("电话", p.phone) : null,
        p.landlordPhone ? line("房东", p.landlordPhone) : null,
        line("网格", gridName(p.gridCode)),
        p.matched?.length ? el("div", { class: "muted", text: `相符:${p.matched.map((m) => matchedText[m] ?? m).join("、")}` }) : null)))));
}
