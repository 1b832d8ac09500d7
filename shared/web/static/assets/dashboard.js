// dashboard.js: the district office's screen (区指挥部看板), read at 6 a.m.
// on a desk screen: reports per day by risk level, where each grid stands,
// SMS delivery, the morning refresh of the groups' lists, and the
// risk-area list the reports are scored against.
import {
  el, clear, svg, request, staffLogin, errorWords, reasonWords, riskText,
  districtDay, districtTime, ApiError, addDays, field, showFieldErrors, loadAreas, areaName, gridLabel,
} from "./gc.js";

const main = document.getElementById("main");

// Levels from the bottom of a bar to its top, in gc.css's risk colours.
const LEVELS = ["none", "low", "medium", "high"];
const COLOURS = { none: "#00b42a", low: "#f7ba1e", medium: "#f77234", high: "#c9302c" };
// Levels an area on the list may have (risk.Validate refuses none).
const AREA_LEVELS = ["high", "medium", "low"];

const DEFAULT_DAYS = 14;
const MAX_DAYS = 92; // stats.MaxDays
const STATS_EVERY = 60_000; // the office leaves the screen open
const REFRESH_EVERY = 3_000; // while a run goes on

// Reasons this page words its own way; the rest as every page does.
const words = {
  unknown_area: "不是有效的县(区)代码",
  six_digits: "须为6位数字",
  invalid: "请选择风险等级",
  before_from: "不能早于开始日期",
  range_too_long: `最长可查${MAX_DAYS}天`,
  too_many: "风险地区最多4000条",
};
// word says a problem (for gc.js's showFieldErrors) in this page's words.
const word = (p) => words[p.reason] ?? reasonWords(p.reason, p.field);

const listKinds = { nat: "全员核酸名单", residence_code: "粤居码名单", venue_code: "场所码名单", other: "其他名单", registry: "人口底册" };
const taskReason = (r) => (r.startsWith("not_in_") && listKinds[r.slice(7)] ? `不在${listKinds[r.slice(7)]}` : r);

const refreshFailure = {
  group_not_found: "单位已不存在",
  timeout: "超时",
  unreadable_data: "数据无法解密",
  store_error: "数据库出错",
};

const dayCount = (from, to) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
const isDay = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));

const sum = (xs, f) => xs.reduce((n, x) => n + f(x), 0);

// ---- Reports, grids, SMS: GET /v1/stats ----

function statsView() {
  const today = districtDay();
  const q = new URLSearchParams(location.search);
  let range = {
    from: isDay(q.get("from") ?? "") ? q.get("from") : addDays(today, 1 - DEFAULT_DAYS),
    to: isDay(q.get("to") ?? "") ? q.get("to") : today,
  };
  // A range of the last n days moves on with the date when the screen is
  // left open overnight; one picked by date stays (and is in the address).
  let rolling = q.has("from") || q.has("to") ? 0 : DEFAULT_DAYS;

  const from = el("input", { type: "date", id: "stats-from", value: range.from, on: { change: () => { rolling = 0; } } });
  const to = el("input", { type: "date", id: "stats-to", value: range.to, on: { change: () => { rolling = 0; } } });
  const msg = el("p", { class: "error", attrs: { role: "alert" } });
  const quick = (days, label) => el("button", { type: "button", class: "secondary", text: label, on: { click: () => {
    rolling = days;
    to.value = districtDay();
    from.value = addDays(to.value, 1 - days);
    form.requestSubmit();
  } } });
  const form = el("form", { class: "card db-range", attrs: { novalidate: "" }, on: { submit: (ev) => {
    ev.preventDefault();
    const problems = [];
    if (!isDay(from.value)) problems.push({ field: "from", reason: "invalid_date" });
    if (!isDay(to.value)) problems.push({ field: "to", reason: "invalid_date" });
    if (!problems.length && to.value < from.value) problems.push({ field: "to", reason: "before_from" });
    if (!problems.length && dayCount(from.value, to.value) > MAX_DAYS) problems.push({ field: "to", reason: "range_too_long" });
    showFieldErrors(form, problems, msg, word);
    if (problems.length) return;
    range = { from: from.value, to: to.value };
    history.replaceState(null, "", rolling ? location.pathname : `${location.pathname}?from=${range.from}&to=${range.to}`);
    load();
  } } },
  el("div", { class: "row" },
    field("开始日期", from, "from"),
    field("结束日期", to, "to"),
    el("div", { class: "db-quick" }, quick(7, "近7天"), quick(14, "近14天"), quick(30, "近30天")),
    el("button", { type: "submit", text: "查询" })),
  msg);

  const updated = el("p", { class: "muted db-updated" });
  const kpis = el("div", { class: "db-kpis", attrs: { "aria-live": "polite" } });

  // The chart.
  const chartBox = el("div", { class: "chart", id: "chart" });
  const dayTable = el("tbody");
  const chartCard = el("section", { class: "card", attrs: { "aria-labelledby": "chart-title" } },
    el("h2", { id: "chart-title", text: "每日报备(按风险等级)" }),
    el("ul", { class: "db-legend" }, [...LEVELS].reverse().map((l) =>
      el("li", {}, el("span", { class: `db-swatch risk-${l}`, attrs: { "aria-hidden": "true" } }), riskText[l]))),
    chartBox,
    el("details", { class: "no-print" }, el("summary", { text: "按日数据" }),
      el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", { text: "日期" }), LEVELS.map((l) => el("th", { class: "db-n", text: riskText[l] })), el("th", { class: "db-n", text: "合计" }))),
        dayTable))));

  // SMS and open tasks.
  const sms = el("div", { class: "db-sms", id: "db-sms" });
  const smsCard = el("section", { class: "card" }, el("h2", { text: "短信发送" }), sms,
    el("p", { class: "muted", text: "所选日期内创建的短信:报备提示、单位每日名单、网格员提醒。" }));
  const tasks = el("div", { id: "tasks" });
  const tasksCard = el("section", { class: "card" }, el("h2", { text: "待核查任务(按原因)" }), tasks);

  // Grids.
  const gridBody = el("tbody");
  const gridHead = el("tr");
  const gridNote = el("p", { class: "muted" });
  const gridCard = el("section", { class: "card", attrs: { "aria-labelledby": "grids-title" } },
    el("h2", { id: "grids-title", text: "各网格报备处置" }), gridNote,
    el("div", { class: "table-wrap" }, el("table", { id: "grids" }, el("thead", {}, gridHead), gridBody)));

  let stats = null;
  let seq = 0;
  let drawnWidth = 0;

  const columns = [
    { key: "name", label: "网格", text: (g) => gridName(g) },
    { key: "community", label: "社区", text: (g) => g.community ?? "" },
    { key: "town", label: "镇街", text: (g) => g.town ?? "" },
    { key: "pending", label: "待办结", num: true },
    { key: "overdue", label: "超时未联系", num: true },
    { key: "escalated", label: "已升级", num: true },
    { key: "closed", label: "已办结", num: true },
  ];
  // Overdue first: what the office chases at 6 a.m.
  let sort = { key: "overdue", dir: -1 };
  const compare = (a, b) => {
    const col = columns.find((c) => c.key === sort.key);
    const c = col.num ? (a[col.key] - b[col.key]) : col.text(a).localeCompare(col.text(b), "zh-CN");
    return c * sort.dir || b.overdue - a.overdue || b.pending - a.pending || a.gridCode.localeCompare(b.gridCode);
  };

  function renderGrids() {
    clear(gridHead, columns.map((col) => {
      const active = sort.key === col.key;
      return el("th", { class: col.num ? "db-n" : "", attrs: { "aria-sort": active ? (sort.dir < 0 ? "descending" : "ascending") : "none" } },
        el("button", { type: "button", class: "link db-sort", text: `${col.label}${active ? (sort.dir < 0 ? " ▼" : " ▲") : ""}`, dataset: { sort: col.key },
          on: { click: () => {
            sort = active ? { key: col.key, dir: -sort.dir } : { key: col.key, dir: col.num ? -1 : 1 };
            renderGrids();
          } } }));
    }));
    const rows = stats.grids.filter((g) => g.pending + g.closed > 0).sort(compare);
    clear(gridBody, rows.map((g) => el("tr", { class: g.overdue > 0 ? "abnormal" : "", dataset: { grid: g.gridCode } },
      el("td", {}, el("span", { class: "grid-name", text: gridName(g) }), g.name ? el("span", { class: "muted db-code", text: ` ${g.gridCode}` }) : null),
      el("td", { text: g.community ?? "" }),
      el("td", { text: g.town ?? "" }),
      el("td", { class: "db-n", text: g.pending, dataset: { col: "pending" } }),
      el("td", { class: "db-n", dataset: { col: "overdue" } }, g.overdue > 0 ? el("span", { class: "badge red", text: g.overdue }) : "0"),
      el("td", { class: "db-n", text: g.escalated, dataset: { col: "escalated" } }),
      el("td", { class: "db-n", text: g.closed, dataset: { col: "closed" } }))));
    if (!rows.length) gridBody.append(el("tr", {}, el("td", { attrs: { colspan: columns.length }, class: "muted", text: "所选日期内没有报备" })));
    const overdue = rows.filter((g) => g.overdue > 0).length;
    gridNote.textContent = `${rows.length} 个网格有报备${overdue ? `,其中 ${overdue} 个有超时未联系的报备` : ""}。超时:报备后未按时首次联系;已升级:已超时到需社区或区级督办。`;
  }

  function renderKpis() {
    const d = stats.days;
    const total = sum(d, (x) => x.total);
    const risky = sum(d, (x) => x.high + x.medium);
    const pending = sum(stats.grids, (g) => g.pending);
    const overdue = sum(stats.grids, (g) => g.overdue);
    const fc = stats.firstContact;
    const kpi = (name, value, label, alert, sub) => el("div", { class: `db-kpi${alert ? " db-alert" : ""}`, dataset: { kpi: name } },
      el("span", { class: "db-num", text: value }), el("span", { class: "db-label", text: label }),
      sub ? el("span", { class: "db-sub", text: sub }) : null);
    clear(kpis,
      kpi("total", total, "报备总数"),
      kpi("risky", risky, "中高风险", risky > 0),
      kpi("pending", pending, "待办结"),
      kpi("overdue", overdue, "超时未联系", overdue > 0),
      kpi("contact", fc.count ? `${Math.round(fc.medianMinutes)} 分钟` : "—", "首次联系用时(中位数)", false,
        fc.count ? `90% 在 ${Math.round(fc.p90Minutes)} 分钟内 · ${fc.count} 份` : "尚无联系记录"));
  }

  function renderSms() {
    const s = stats.sms;
    const n = (key, value, label, cls) => el("div", { class: `db-sms-num ${cls}`, dataset: { sms: key, count: value } },
      el("span", { class: "db-num", text: value }), el("span", { class: "db-label", text: label }));
    clear(sms, n("sent", s.sent, "已发送", "ok"), n("failed", s.failed, "发送失败", s.failed ? "error" : ""), n("pending", s.pending, "待发送", ""));
  }

  function renderTasks() {
    const entries = Object.entries(stats.openTasks).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    if (!entries.length) return clear(tasks, el("p", { class: "muted", text: "没有待核查的任务。" }));
    clear(tasks, el("ul", { class: "db-plain" }, entries.map(([reason, n]) =>
      el("li", { dataset: { reason } }, el("span", { text: taskReason(reason) }), el("strong", { text: n })))));
  }

  function renderDays() {
    clear(dayTable, stats.days.map((d) => el("tr", {},
      el("td", { text: d.date }), LEVELS.map((l) => el("td", { class: "db-n", text: d[l] })), el("td", { class: "db-n", text: d.total }))));
  }

  function draw() {
    if (!stats) return;
    drawnWidth = chartBox.clientWidth;
    drawChart(chartBox, stats.days);
  }
  let frame = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => { if (chartBox.clientWidth !== drawnWidth) draw(); });
  });

  async function load() {
    const mine = ++seq;
    if (rolling) {
      range = { from: addDays(districtDay(), 1 - rolling), to: districtDay() };
      from.value = range.from;
      to.value = range.to;
    }
    try {
      const st = await request(`/v1/stats?from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(range.to)}`);
      if (mine !== seq) return;
      stats = st;
      msg.textContent = "";
      renderKpis();
      draw();
      renderDays();
      renderGrids();
      renderSms();
      renderTasks();
      updated.textContent = `${stats.from} 至 ${stats.to} · 更新于 ${districtTime(stats.generatedAt)} · 每分钟自动刷新`;
      Object.assign(chartBox.dataset, { from: stats.from, to: stats.to, loaded: "true" });
    } catch (err) {
      if (mine !== seq) return;
      if (err instanceof ApiError && err.fields.length) showFieldErrors(form, err.fields, msg, word);
      if (!msg.textContent) msg.textContent = errorWords(err);
    }
  }

  return { form, updated, kpis, chartCard, smsCard, tasksCard, gridCard, load };
}

const gridName = (g) => gridLabel(g.gridCode, g.name);

// niceStep picks the gap between the y axis's lines: 1, 2 or 5 times a
// power of ten, for about four lines.
function niceStep(max) {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return Math.max(1, m * mag);
  return Math.max(1, 10 * mag);
}

// drawChart draws the days as stacked bars, as wide as the box. Each
// segment carries data-day, data-level and data-count and a <title>, so a
// screen reader and the tests can read it.
function drawChart(box, days) {
  const W = Math.max(280, Math.round(box.clientWidth || 600));
  const H = W < 560 ? 220 : 300;
  const left = 40, right = 8, top = 22, bottom = 26;
  const iw = W - left - right, ih = H - top - bottom;
  const most = Math.max(1, ...days.map((d) => d.total));
  const step = niceStep(most);
  const ymax = Math.ceil(most / step) * step;
  const y = (v) => top + ih - (v / ymax) * ih;
  const slot = iw / Math.max(1, days.length);
  const bw = Math.max(3, Math.min(44, slot * 0.68));
  const labelEvery = Math.max(1, Math.ceil(46 / slot));
  const total = sum(days, (d) => d.total);
  const first = days[0]?.date ?? "", last = days.at(-1)?.date ?? "";

  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "bars", role: "img",
    "aria-label": `${first} 至 ${last} 每日报备,共 ${total} 份`, "font-size": 11, "font-family": "inherit",
  }, svg("title", { text: `${first} 至 ${last} 每日报备(按风险等级),共 ${total} 份` }));

  const axis = svg("g", { class: "axis", "aria-hidden": "true" });
  for (let v = 0; v <= ymax; v += step) {
    axis.append(
      svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), stroke: v ? "#e5e6eb" : "#c9cdd4", "stroke-width": 1 }),
      svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", fill: "#86909c", text: v }));
  }
  root.append(axis);

  days.forEach((d, i) => {
    const x = left + slot * i + (slot - bw) / 2;
    const bar = svg("g", { class: "bar", "data-day": d.date, "data-total": d.total });
    let below = 0;
    for (const level of LEVELS) {
      const n = d[level];
      if (!n) continue;
      bar.append(svg("rect", {
        x: x.toFixed(1), y: y(below + n).toFixed(1), width: bw.toFixed(1), height: (y(below) - y(below + n)).toFixed(1),
        fill: COLOURS[level], "data-day": d.date, "data-level": level, "data-count": n,
      }, svg("title", { text: `${d.date} ${riskText[level]} ${n} 份` })));
      below += n;
    }
    if (d.total) {
      bar.append(svg("text", { x: (x + bw / 2).toFixed(1), y: (y(d.total) - 4).toFixed(1), "text-anchor": "middle", fill: "#1d2129", "aria-hidden": "true", text: d.total }));
    }
    // Every few days a label, always the last (today).
    if ((days.length - 1 - i) % labelEvery === 0) {
      bar.append(svg("text", { x: (x + bw / 2).toFixed(1), y: H - 8, "text-anchor": "middle", fill: "#4e5969", "aria-hidden": "true", text: d.date.slice(5) }));
    }
    root.append(bar);
  });
  if (!total) {
    root.append(svg("text", { x: left + iw / 2, y: top + ih / 2, "text-anchor": "middle", fill: "#86909c", "font-size": 14, text: "所选日期内没有报备" }));
  }
  box.replaceChildren(root);
}

// ---- The morning refresh of the groups' lists ----

function refreshView() {
  const box = el("div", { id: "db-refresh", class: "db-refresh", attrs: { "aria-live": "polite" } });
  const msg = el("p", { class: "muted", id: "refresh-msg", attrs: { role: "status" } });
  const btn = el("button", { type: "button", id: "refresh-run", text: "立即生成", on: { click: () => run() } });
  const card = el("section", { class: "card" }, el("h2", { text: "今日单位健康名单" }), box,
    el("div", { class: "db-actions" }, btn), msg);
  let timer = 0;
  let seq = 0;

  function render(day, p) {
    if (!p) {
      delete box.dataset.run;
      box.dataset.state = "none";
      return clear(box, el("p", { text: `${day} 的名单尚未生成(每天 06:00 自动生成)。` }));
    }
    const failed = p.failed ?? [];
    Object.assign(box.dataset, {
      state: p.complete ? "complete" : "running", run: p.runId,
      done: p.done, groups: p.groups, failed: failed.length, retrying: p.retrying,
    });
    const status = p.complete
      ? (failed.length ? el("span", { class: "badge red", text: "已结束,有失败" }) : el("span", { class: "badge green", text: "已完成" }))
      : el("span", { class: "badge yellow", text: "生成中…" });
    clear(box,
      el("p", {}, status, ` ${p.date} · ${districtTime(p.plannedAt)} 开始`),
      el("progress", { max: Math.max(1, p.groups), value: p.groups ? p.done : 1, attrs: { "aria-label": "已完成单位" } }),
      el("p", {}, el("strong", { class: "db-big", text: `${p.done} / ${p.groups}` }), " 个单位已完成"),
      el("p", { class: "muted", text: `分片 ${p.shardsReported} / ${p.shards} 已回报` }),
      p.retrying ? el("p", { class: "error", text: `${p.retrying} 个单位出错,正在重试` }) : null,
      failed.length ? el("div", {},
        el("h3", { text: `未能生成(不再重试):${failed.length} 个单位` }),
        el("ul", { class: "db-plain" }, failed.slice(0, 50).map((f) =>
          el("li", { dataset: { group: f.groupId } }, el("span", { class: "db-code", text: f.groupId }), el("span", { text: refreshFailure[f.reason] ?? f.reason })))),
        failed.length > 50 ? el("p", { class: "muted", text: `另有 ${failed.length - 50} 个未列出` }) : null) : null);
  }

  async function load() {
    clearTimeout(timer);
    const mine = ++seq;
    const day = districtDay();
    let p = null;
    try {
      p = await request(`/v1/refresh/runs/${day}`);
    } catch (err) {
      if (mine !== seq) return;
      if (!(err instanceof ApiError && err.status === 404)) {
        msg.textContent = errorWords(err);
        timer = setTimeout(load, REFRESH_EVERY * 5);
        return;
      }
    }
    if (mine !== seq) return;
    render(day, p);
    if (p && !p.complete) timer = setTimeout(load, REFRESH_EVERY);
  }

  async function run() {
    btn.disabled = true;
    const day = districtDay();
    try {
      await request(`/v1/refresh/run?date=${day}`, { method: "POST" });
      msg.textContent = `已开始生成 ${day} 的名单。已生成的单位不会重复生成,也不会重复发短信。`;
      msg.dataset.state = "started";
    } catch (err) {
      msg.textContent = err.code === "refresh_in_progress" ? "今日名单正在生成中,请等待完成。" : errorWords(err);
      msg.dataset.state = err.code || "error";
    } finally {
      btn.disabled = false;
    }
    await load();
  }

  return { card, load };
}

// ---- The risk-area list: GET and PUT /v1/risk-areas ----

function riskAreasView() {
  const list = el("div", { class: "ra-list", id: "risk-areas" });
  let counties = null; // the county table, GET /v1/areas
  const datalist = el("datalist", { id: "counties" });
  const general = el("p", { class: "error", attrs: { role: "alert" } });
  const msg = el("p", { class: "muted", id: "ra-msg", attrs: { role: "status" } });
  const summary = el("p", { class: "muted" });
  const filter = el("input", { type: "search", id: "ra-filter", placeholder: "按代码或地名筛选", on: { input: applyFilter } });
  const addBtn = el("button", { type: "button", class: "secondary", id: "ra-add", text: "添加风险地区", on: { click: () => {
    filter.value = "";
    applyFilter();
    const r = row({});
    list.append(r);
    numberRows();
    dirty();
    r.querySelector(".ra-code").focus();
  } } });
  const saveBtn = el("button", { type: "button", id: "ra-save", text: "保存名单", on: { click: () => save() } });
  const resetBtn = el("button", { type: "button", class: "secondary", text: "放弃修改", on: { click: () => load() } });
  const card = el("section", { class: "card", attrs: { "aria-labelledby": "ra-title" } },
    el("h2", { id: "ra-title", text: "中高风险地区名单" }),
    el("p", { class: "muted", text: "保存后,新提交的报备按此名单评估风险;已提交的报备不变。结束日期留空表示持续有效。" }),
    summary,
    el("div", { class: "row" }, field("筛选", filter, null)),
    list, datalist,
    el("span", { attrs: { "data-error-for": "areas" } }), // the list as a whole (too many)
    general,
    el("div", { class: "db-actions" }, addBtn, resetBtn, saveBtn), msg);

  const parts = new WeakMap(); // row -> its inputs
  const today = () => districtDay();
  const place = (code) => areaName(counties, code);

  function row(a) {
    const code = el("input", { type: "text", class: "ra-code", value: a.areaCode ?? "", maxLength: 6, inputMode: "numeric",
      placeholder: "如 440106", attrs: { list: "counties", autocomplete: "off", pattern: "[0-9]{6}" } });
    const where = el("span", { class: "ra-place muted" });
    const level = el("select", { class: "ra-level" }, AREA_LEVELS.map((l) => el("option", { value: l, text: riskText[l] })));
    if (a.level && !AREA_LEVELS.includes(a.level)) level.append(el("option", { value: a.level, text: riskText[a.level] ?? a.level }));
    level.value = a.level ?? "high";
    const from = el("input", { type: "date", class: "ra-from", value: a.from ?? today() });
    const to = el("input", { type: "date", class: "ra-to", value: a.to ?? "" });
    const state = el("span", { class: "badge ra-state" });
    const r = el("div", { class: "ra-row" },
      rowField("地区代码", code, "areaCode", where),
      rowField("风险等级", level, "level"),
      rowField("开始日期", from, "from"),
      rowField("结束日期", to, "to"),
      el("div", { class: "ra-side" }, state,
        el("button", { type: "button", class: "secondary ra-remove", text: "删除", attrs: { "aria-label": "删除此行" }, on: { click: () => {
          r.remove();
          numberRows();
          dirty();
        } } })));
    parts.set(r, { code, level, from, to });
    const update = () => {
      const c = code.value.trim();
      where.textContent = /^\d{6}$/.test(c) ? (place(c) || "未知代码") : "";
      r.className = `ra-row ra-lv-${level.value}`;
      const t = today();
      if (to.value && to.value < t) { state.textContent = "已结束"; state.className = "badge ra-state"; }
      else if (from.value > t) { state.textContent = "未开始"; state.className = "badge ra-state yellow"; }
      else { state.textContent = "生效中"; state.className = `badge ra-state risk-${level.value}`; }
    };
    for (const input of [code, level, from, to]) {
      input.addEventListener("input", () => { update(); dirty(); });
      input.addEventListener("change", () => { update(); dirty(); });
    }
    update();
    return r;
  }

  // rowField is a field of a row: its error slot is named as the API
  // names it, after the row's index ("[3].areaCode", see numberRows).
  function rowField(label, input, name, ...below) {
    const f = field(label, input, name, ...below);
    f.querySelector("[data-error-for]").dataset.field = name;
    f.classList.add(`rf-${name}`);
    return f;
  }

  function numberRows() {
    [...list.children].forEach((r, i) => {
      r.dataset.index = i;
      for (const slot of r.querySelectorAll("[data-field]")) slot.setAttribute("data-error-for", `[${i}].${slot.dataset.field}`);
    });
  }

  function dirty() {
    msg.textContent = "有未保存的修改。";
    msg.dataset.state = "dirty";
    summarise();
  }

  function summarise() {
    const t = today();
    let inForce = 0;
    for (const r of list.children) {
      const p = parts.get(r);
      if (p.from.value <= t && (!p.to.value || t <= p.to.value)) inForce++;
    }
    summary.textContent = `共 ${list.children.length} 条,今日生效 ${inForce} 条。`;
  }

  function applyFilter() {
    const f = filter.value.trim();
    for (const r of list.children) {
      const c = parts.get(r).code.value.trim();
      r.hidden = f !== "" && !c.includes(f) && !place(c).includes(f);
    }
  }

  function render(areas) {
    clear(list, areas.map((a) => row(a)));
    numberRows();
    showFieldErrors(card, [], general, word);
    summarise();
    applyFilter();
  }

  async function load() {
    try {
      const [areas, tree] = await Promise.all([request("/v1/risk-areas"), loadAreas()]);
      if (!counties) {
        counties = tree;
        const options = [];
        for (const p of tree.provinces) for (const c of p.cities) for (const k of c.counties) {
          options.push(el("option", { value: k.code, label: areaName(tree, k.code) }));
        }
        clear(datalist, options);
      }
      render(areas);
      msg.textContent = "";
      delete msg.dataset.state;
      list.dataset.loaded = "true";
    } catch (err) {
      msg.textContent = errorWords(err);
      msg.dataset.state = "error";
    }
  }

  async function save() {
    filter.value = "";
    applyFilter();
    numberRows();
    const items = [];
    const problems = [];
    [...list.children].forEach((r, i) => {
      const p = parts.get(r);
      const code = p.code.value.trim();
      if (!code) problems.push({ field: `[${i}].areaCode`, reason: "required" });
      else if (!/^\d{6}$/.test(code)) problems.push({ field: `[${i}].areaCode`, reason: "six_digits" });
      if (!p.from.value) problems.push({ field: `[${i}].from`, reason: "required" });
      const item = { areaCode: code, level: p.level.value, from: p.from.value };
      if (p.to.value) item.to = p.to.value;
      items.push(item);
    });
    if (problems.length) {
      showFieldErrors(card, problems, general, word);
      msg.textContent = "请修改标出的内容,名单未保存。";
      msg.dataset.state = "invalid";
      return;
    }
    saveBtn.disabled = true;
    msg.textContent = "正在保存…";
    try {
      const stored = await request("/v1/risk-areas", { method: "PUT", body: items });
      render(stored);
      msg.textContent = `已保存,共 ${stored.length} 条。`;
      msg.dataset.state = "saved";
    } catch (err) {
      showFieldErrors(card, err instanceof ApiError ? err.fields : [], general, word);
      msg.textContent = `${errorWords(err)},名单未保存。`;
      msg.dataset.state = "error";
    } finally {
      saveBtn.disabled = false;
    }
  }

  return { card, load };
}

staffLogin(main, ["district_admin"], async () => {
  main.classList.add("db-wide");
  const stats = statsView();
  const refresh = refreshView();
  const areas = riskAreasView();
  clear(main,
    stats.form,
    stats.updated,
    stats.kpis,
    el("div", { class: "db-cols" },
      el("div", {}, stats.chartCard, stats.gridCard),
      el("div", { class: "db-side" }, refresh.card, stats.smsCard, stats.tasksCard)),
    areas.card);
  await Promise.all([stats.load(), refresh.load(), areas.load()]);
  // The screen stays open: the numbers follow, and the 06:00 run shows
  // up without a reload. The risk-area list is not reloaded under edits.
  setInterval(() => {
    if (document.hidden) return;
    stats.load();
    refresh.load();
  }, STATS_EVERY);
});
