// group.js: the group administrator's page (/group). A store manager
// opens it on a phone or at a desk to see today's health list of the
// staff (abnormal members first, as the API orders it), download it for
// Excel, replace the roster from an Excel CSV, approve the staff who asked
// to join through the group's QR code, and print that code. The district
// office uses the same page for any group, by its id.
import {
  el, clear, request, download, staffLogin, errorWords, reasonWords, districtDay, districtTime, addDays, idTypeText,
} from "./gc.js";

const app = document.getElementById("app");

const kindText = {
  supermarket: "超市", school: "学校", ktv: "KTV", internet_cafe: "网吧", scenic_spot: "景区", hotel: "酒店宾馆",
  property_manager: "物业", restaurant: "餐饮", market: "农贸市场", enterprise: "企业", other: "其他",
};
const colorText = { red: "红码", yellow: "黄码", green: "绿码" };
// The daily list's reasons, as the XLSX names them (shared/group/export).
const flagText = { code_red: "红码", nat_positive: "核酸阳性", code_yellow: "黄码", nat_stale: "核酸超时", no_data: "无健康数据" };
const natResultText = { negative: "阴性", positive: "阳性" };

// How many earlier days the page looks back for a list when the asked
// day has none.
const LOOK_BACK_DAYS = 7;

staffLogin(app, ["group_admin", "district_admin"], async (me) => {
  if (me.role === "group_admin") {
    if (!me.group) return clear(app, el("p", { class: "error", text: "此登录令牌没有绑定单位,请联系区指挥部。" }));
    return openGroup(me.group, null);
  }
  const chooser = groupChooser();
  const asked = new URLSearchParams(location.search).get("group");
  if (asked) return openGroup(asked.trim().toUpperCase(), chooser);
  clear(app, chooser);
});

// groupChooser lets the district office pick a group by its id.
function groupChooser() {
  const input = el("input", { type: "text", id: "group-id", placeholder: "如 G1A2B3C4D", autocomplete: "off", spellcheck: false,
    value: new URLSearchParams(location.search).get("group") ?? "" });
  return el("form", { class: "card no-print", id: "choose", on: { submit: (ev) => {
    ev.preventDefault();
    const id = input.value.trim().toUpperCase();
    if (!id) return;
    input.value = id;
    history.replaceState(null, "", `?group=${encodeURIComponent(id)}`);
    openGroup(id, ev.currentTarget);
  } } },
  el("label", { for: "group-id", text: "单位编号(二维码下方的编号)" }),
  el("div", { class: "row" }, input, el("button", { type: "submit", id: "open-group", text: "打开" })));
}

function message(node, kind, text) {
  node.className = kind;
  node.textContent = text;
}

// openGroup lays out the page for one group and loads its parts.
async function openGroup(id, chooser) {
  const path = `/v1/groups/${encodeURIComponent(id)}`;
  const head = el("section", { class: "card", id: "group-head" }, el("p", { class: "muted", text: "加载中…" }));
  clear(app, chooser, head);
  let group;
  try {
    group = await request(path);
  } catch (err) {
    clear(head, el("p", { class: "error", text: err.status === 404 ? `未找到单位 ${id},请核对单位编号。` : errorWords(err) }));
    return;
  }
  const page = { id, path, head, group };
  page.daily = el("section", { class: "card", id: "daily" });
  page.pending = el("section", { class: "card", id: "pending" });
  page.qr = el("section", { class: "card", id: "qr" });
  page.roster = el("section", { class: "card", id: "roster" });
  // Pending joins first: they wait for the manager; an empty card is one line.
  app.append(page.pending, page.daily, el("div", { class: "grid2" }, page.roster, page.qr));
  showHead(page, group);
  showQR(page);
  showRosterForm(page);
  await Promise.all([showDaily(page, districtDay()), loadRoster(page)]);
}

function showHead(page, g) {
  page.group = g;
  clear(page.head,
    el("h1", { id: "group-name", text: g.name }),
    el("p", { class: "muted" },
      `${kindText[g.kind] ?? g.kind} · ${g.address} · 网格 ${g.gridCode}`),
    el("p", {},
      "单位编号 ", el("span", { class: "gp-mono", text: g.groupId }),
      ` · 花名册 ${g.members} 人`,
      g.admin?.name ? ` · 管理员 ${g.admin.name} ${g.admin.phone ?? ""}` : ""),
    el("nav", { class: "gp-jump no-print" },
      el("a", { href: "#daily", text: "健康名单" }), el("a", { href: "#pending", text: "加入申请" }),
      el("a", { href: "#roster", text: "花名册" }), el("a", { href: "#qr", text: "二维码" })));
}

// showDaily loads and shows the list of date; a day without a list says
// when lists are made and offers the latest earlier one.
async function showDaily(page, date) {
  const card = page.daily;
  clear(card, el("h2", { text: "每日健康名单" }), el("p", { class: "muted", text: "加载中…" }));
  try {
    renderDaily(page, await request(`${page.path}/daily?date=${date}`));
  } catch (err) {
    if (err.status !== 404) {
      clear(card, el("h2", { text: "每日健康名单" }), el("p", { class: "error", text: errorWords(err) }), dayPicker(page, date));
      return;
    }
    await noList(page, date);
  }
}

function dayPicker(page, date) {
  const today = districtDay();
  return el("label", { class: "gp-inline" }, "日期 ",
    el("input", { type: "date", id: "list-date", value: date, max: today, on: { change: (ev) => {
      if (ev.target.value) showDaily(page, ev.target.value);
    } } }));
}

async function noList(page, date) {
  const card = page.daily;
  const today = districtDay();
  const offer = el("div", { id: "latest" }, el("p", { class: "muted", text: "正在查找最近的名单…" }));
  clear(card,
    el("h2", { text: "每日健康名单" }),
    el("p", { id: "no-list", class: "gp-notice", text: date === today
      ? "今日名单尚未生成。名单每天06:00生成,新上传的花名册从次日的名单起生效。"
      : `${date} 没有名单。名单每天06:00生成。` }),
    dayPicker(page, date), offer);
  for (let n = 1; n <= LOOK_BACK_DAYS; n++) {
    const day = addDays(date, -n);
    let d;
    try {
      d = await request(`${page.path}/daily?date=${day}`);
    } catch (err) {
      if (err.status === 404) continue;
      clear(offer, el("p", { class: "error", text: errorWords(err) }));
      return;
    }
    clear(offer, el("button", { type: "button", id: "show-latest", text: `查看最近的名单(${day})`, on: { click: () => renderDaily(page, d) } }));
    return;
  }
  clear(offer, el("p", { class: "muted", text: `最近${LOOK_BACK_DAYS}天都没有名单。新登记的单位在上传花名册后的次日06:00生成第一份名单。` }));
}

function colorBadge(color) {
  return el("span", { class: `badge ${color ?? ""}`.trim(), text: colorText[color] ?? "无数据" });
}

function natText(e) {
  if (e.hoursSinceNat === undefined || e.hoursSinceNat === null) return "无核酸记录";
  const result = natResultText[e.natResult];
  return `${e.hoursSinceNat}小时前${result ? " · " + result : ""}`;
}

function entryRow(e) {
  return el("tr", { class: e.abnormal ? "abnormal" : null },
    el("td", { class: "name", text: e.name }),
    el("td", {}, colorBadge(e.codeColor)),
    el("td", { class: "gp-reasons", text: (e.reasons ?? []).map((r) => flagText[r] ?? r).join("、") }),
    el("td", { class: "gp-nat", text: natText(e) }),
    el("td", { class: "gp-mono", text: `${e.idNumber}` }),
    el("td", { class: "muted", text: idTypeText[e.idType] ?? e.idType }));
}

// renderDaily shows a list with its counts, filters and downloads.
function renderDaily(page, d) {
  const card = page.daily;
  const s = d.summary;
  const entries = d.members ?? [];
  const state = { abnormalOnly: false, q: "" };
  const tbody = el("tbody");
  const shown = el("p", { class: "muted", id: "shown", attrs: { "aria-live": "polite" } });
  const downloadMsg = el("p", { class: "muted", id: "download-msg" });

  const apply = () => {
    const q = state.q.trim().toLowerCase();
    const rows = entries.filter((e) => (!state.abnormalOnly || e.abnormal) && (q === "" || e.name.toLowerCase().includes(q)));
    clear(tbody, rows.map(entryRow));
    if (rows.length === 0) tbody.append(el("tr", {}, el("td", { colSpan: 6, class: "muted", text: "没有符合条件的人员" })));
    shown.textContent = `显示 ${rows.length} / ${entries.length} 人`;
    allTab.setAttribute("aria-selected", String(!state.abnormalOnly));
    abnormalTab.setAttribute("aria-selected", String(state.abnormalOnly));
  };
  const allTab = el("button", { type: "button", id: "filter-all", text: `全部 ${s.members}`, on: { click: () => { state.abnormalOnly = false; apply(); } } });
  const abnormalTab = el("button", { type: "button", id: "filter-abnormal", text: `仅异常 ${s.abnormal}`, on: { click: () => { state.abnormalOnly = true; apply(); } } });
  const search = el("input", { type: "search", id: "name-filter", placeholder: "按姓名筛选", attrs: { "aria-label": "按姓名筛选" },
    on: { input: (ev) => { state.q = ev.target.value; apply(); } } });

  const file = (format) => el("button", { type: "button", class: "secondary", id: `download-${format}`,
    text: format === "xlsx" ? "下载 Excel" : "下载 CSV", on: { click: async (ev) => {
      const b = ev.currentTarget;
      b.disabled = true;
      message(downloadMsg, "muted", "正在下载…");
      try {
        await download(`${page.path}/daily?date=${d.date}&format=${format}`, `${page.id}-${d.date}.${format}`);
        message(downloadMsg, "ok", `已下载 ${page.id}-${d.date}.${format}`);
      } catch (err) {
        message(downloadMsg, "error", `下载失败:${errorWords(err)}`);
      } finally {
        b.disabled = false;
      }
    } } });

  const today = districtDay();
  const count = (label, n, cls) => el("span", { class: `badge ${n > 0 ? cls : ""}`.trim() }, `${label} ${n}`);
  clear(card,
    el("h2", { text: d.date === today ? `今日健康名单(${d.date})` : `健康名单(${d.date})` }),
    d.date === today ? null : el("p", { class: "gp-notice", id: "older-list", text: `这是 ${d.date} 的名单,不是今天的。` }),
    el("div", { class: "gp-summary", id: "summary" },
      el("span", { class: "badge" }, `共 ${s.members} 人`),
      count("异常", s.abnormal, "red"),
      count("红码", s.red, "red"),
      count("黄码", s.yellow, "yellow"),
      count("核酸阳性", s.natPositive, "red"),
      count("核酸超时", s.natStale, "yellow"),
      count("无健康数据", s.noData, "yellow")),
    el("p", { class: "muted" }, `生成于 ${districtTime(d.computedAt)};花名册之后的变动从次日名单起生效。`),
    el("div", { class: "row gp-filters" }, el("div", { class: "tabs", attrs: { role: "group", "aria-label": "筛选" } }, allTab, abnormalTab), search),
    el("div", { class: "gp-downloads" }, dayPicker(page, d.date), file("xlsx"), file("csv")),
    downloadMsg,
    shown,
    el("div", { class: "table-wrap" },
      el("table", { id: "daily-table" },
        el("thead", {}, el("tr", {}, ["姓名", "健康码", "异常原因", "最近核酸", "证件号码", "证件"].map((h) => el("th", { text: h })))),
        tbody)));
  apply();
}

// loadRoster shows the pending self-joins and the current roster.
async function loadRoster(page) {
  const card = page.pending;
  let r;
  try {
    r = await request(`${page.path}/members`);
  } catch (err) {
    clear(card, el("h2", { text: "待审核的加入申请" }), el("p", { class: "error", text: errorWords(err) }));
    return;
  }
  const pending = r.pending ?? [];
  const result = page.approveMsg ?? el("p", { id: "approve-msg" });
  page.approveMsg = result;
  clear(card,
    el("h2", { text: `待审核的加入申请(${pending.length})` }),
    result,
    pending.length === 0
      ? el("p", { class: "muted", id: "no-pending", text: "暂无申请。员工扫描本单位二维码提交后会出现在这里。" })
      : el("ul", { class: "list", id: "pending-list" }, pending.map((m) => pendingItem(page, m))));
  showRosterTable(page, r);
}

function pendingItem(page, m) {
  const approve = el("button", { type: "button", class: "gp-approve", text: "通过", on: { click: async () => {
    approve.disabled = true;
    try {
      const g = await request(`${page.path}/members/${encodeURIComponent(m.memberId)}/approve`, { method: "POST" });
      showHead(page, g);
      message(page.approveMsg, "ok", `已通过:${m.name}。从次日的名单起包含此人。`);
    } catch (err) {
      message(page.approveMsg, "error", err.status === 404 ? "此申请已处理或已失效。" : `审核失败:${errorWords(err)}`);
    }
    await loadRoster(page);
  } } });
  return el("li", { class: "gp-pending" },
    el("div", {},
      el("strong", { class: "name", text: m.name }),
      el("div", { class: "muted" }, `${idTypeText[m.idType] ?? m.idType} ${m.idNumber}${m.phone ? " · " + m.phone : ""}`),
      el("div", { class: "muted" }, `申请时间 ${districtTime(m.joinedAt)}`)),
    approve);
}

function showRosterTable(page, r) {
  const members = r.members ?? [];
  const table = el("details", { id: "roster-list" },
    el("summary", { text: `查看当前花名册(${members.length} 人)` }),
    el("div", { class: "table-wrap" },
      el("table", {},
        el("thead", {}, el("tr", {}, ["姓名", "证件", "证件号码", "手机号码"].map((h) => el("th", { text: h })))),
        el("tbody", {}, members.map((m) => el("tr", {},
          el("td", { class: "name", text: m.name }),
          el("td", { text: idTypeText[m.idType] ?? m.idType }),
          el("td", { class: "gp-mono", text: m.idNumber }),
          el("td", { class: "gp-mono", text: m.phone ?? "" })))))));
  page.rosterList.replaceWith(table);
  page.rosterList = table;
}

// Roster upload: the columns and what the API says about them.
const columnText = { name: "姓名", idType: "证件类型", idNumber: "证件号码", phone: "手机号码" };
const cellReasons = {
  name: { required: "姓名为空", too_long: "姓名超过30个字", invalid_characters: "姓名含有无法识别的字符" },
  idType: { unknown: "证件类型无法识别,可填:居民身份证、护照、港澳居民来往内地通行证(回乡证)、台湾居民来往大陆通行证(台胞证),或留空表示居民身份证" },
  idNumber: {
    required: "证件号码为空",
    duplicate: "与前面某一行的证件号码重复",
    excel_number: "证件号码被Excel变成了科学计数法(如4.40106E+17),后几位已丢失:请把该列设为“文本”格式后重新填写",
  },
  phone: { invalid: "手机号码不正确,须为11位手机号,也可留空" },
};

function headerReason(reason) {
  if (reason === "required") return "文件是空的,找不到表头";
  if (reason === "malformed") return "表头格式有误(引号不成对)";
  let m = /^missing_(\w+)$/.exec(reason);
  if (m) return `表头缺少“${columnText[m[1]] ?? m[1]}”列${m[1] === "idNumber" ? "(也可写作“身份证号码”)" : ""}`;
  m = /^duplicate_(\w+)$/.exec(reason);
  if (m) return `表头中有两列都是“${columnText[m[1]] ?? m[1]}”`;
  return reasonWords(reason);
}

// rosterProblem turns one API problem into a line, a column and words.
function rosterProblem(p) {
  const cell = /^rows\[(\d+)\](?:\.(\w+))?$/.exec(p.field);
  if (cell) {
    const [, line, col] = cell;
    if (!col) return { line: Number(line), column: "", reason: p.reason === "malformed" ? "此行引号不成对,请用Excel重新另存为CSV" : reasonWords(p.reason) };
    return { line: Number(line), column: columnText[col] ?? col, reason: cellReasons[col]?.[p.reason] ?? reasonWords(p.reason) };
  }
  switch (p.field) {
    case "header": return { line: 1, column: "表头", reason: headerReason(p.reason) };
    case "file": return { line: 0, column: "", reason: "无法识别文件编码:请在Excel中另存为“CSV UTF-8(逗号分隔)”或“CSV(逗号分隔)”" };
    case "rows":
      if (p.reason === "empty") return { line: 0, column: "", reason: "文件中没有任何人员" };
      if (p.reason === "too_many") return { line: 0, column: "", reason: "人数超过3000人的上限" };
  }
  return { line: 0, column: p.field, reason: reasonWords(p.reason) };
}

// MAX_SHOWN bounds the error table: a broken 3000-line file is fixed in
// Excel, not read here line by line.
const MAX_SHOWN = 300;

function rosterErrors(problems) {
  const rows = problems.map(rosterProblem).sort((a, b) => a.line - b.line);
  return el("div", { id: "roster-errors" },
    el("p", { class: "error", text: `发现 ${rows.length} 处问题,花名册没有任何改动。请在Excel中改正后重新上传。` }),
    el("div", { class: "table-wrap" },
      el("table", { class: "errors" },
        el("thead", {}, el("tr", {}, el("th", { text: "行" }), el("th", { text: "列" }), el("th", { text: "问题" }))),
        el("tbody", {}, rows.slice(0, MAX_SHOWN).map((r) => el("tr", {},
          el("td", { class: "line", text: r.line > 0 ? `第${r.line}行` : "" }),
          el("td", { class: "column", text: r.column }),
          el("td", { class: "reason gp-wrap", text: r.reason })))))),
    rows.length > MAX_SHOWN ? el("p", { class: "muted", text: `仅显示前 ${MAX_SHOWN} 处。` }) : null);
}

// templateURL is an empty roster with the expected header, as Excel opens
// it (UTF-8 with a BOM).
function templateLink() {
  const blob = new Blob(["\ufeff姓名,证件类型,证件号码,手机号码\r\n"], { type: "text/csv" });
  return el("a", { href: URL.createObjectURL(blob), download: "花名册模板.csv", text: "下载花名册模板" });
}

function showRosterForm(page) {
  const input = el("input", { type: "file", id: "roster-file", accept: ".csv,text/csv" });
  const result = el("div", { id: "roster-result", attrs: { "aria-live": "polite" } });
  const button = el("button", { type: "submit", id: "roster-upload", text: "上传并替换花名册" });
  page.rosterList = el("div");
  const form = el("form", { id: "roster-form", on: { submit: async (ev) => {
    ev.preventDefault();
    const file = input.files[0];
    if (!file) return clear(result, el("p", { class: "error", text: "请先选择CSV文件。" }));
    if (/\.(xlsx|xls|et|wps)$/i.test(file.name)) {
      return clear(result, el("p", { class: "error", text: "请先在Excel中“另存为”CSV格式(CSV UTF-8 或 CSV 逗号分隔),再上传CSV文件。" }));
    }
    button.disabled = true;
    clear(result, el("p", { class: "muted", text: "正在上传和检查…" }));
    try {
      const g = await request(`${page.path}/members`, { method: "PUT", body: file, type: "text/csv" });
      showHead(page, g);
      clear(result, el("p", { class: "ok", id: "roster-ok", text: `上传成功:花名册已替换为 ${g.members} 人。新的名单从次日06:00起生效。` }));
      form.reset();
      await loadRoster(page);
    } catch (err) {
      if (err.fields?.length) clear(result, rosterErrors(err.fields));
      else clear(result, el("p", { class: "error", text: uploadError(err) }));
    } finally {
      button.disabled = false;
    }
  } } },
  el("label", { for: "roster-file", text: "选择花名册文件(CSV)" }), input, el("div", { class: "gp-actions" }, button));
  clear(page.roster,
    el("h2", { text: "花名册" }),
    el("p", { class: "muted" }, "在Excel中“另存为”CSV(CSV UTF-8 或 CSV 逗号分隔均可)后上传。第一行为表头,须有“姓名”“证件号码”两列,可选“证件类型”“手机号码”;证件号码列请设为文本格式。上传会整体替换现有花名册,有任何一行出错都不会改动。 ", templateLink()),
    form, result, page.rosterList);
}

function uploadError(err) {
  switch (err.code) {
    case "body_too_large": return "文件太大(上限1MB),请删去多余的列后重试。";
    case "unsupported_media_type": return "请上传CSV文件。";
    case "roster_changed": return "花名册刚被修改过,请刷新页面后重试。";
  }
  return `上传失败:${errorWords(err)}`;
}

// showQR shows the group's join code; the image needs the token, so it is
// fetched into a blob.
async function showQR(page) {
  const card = page.qr;
  const img = el("img", { class: "gp-qr", id: "qr-img", alt: `${page.group.name} 加入二维码` });
  const msg = el("p", { class: "muted" });
  clear(card,
    el("h2", { text: "本单位二维码" }),
    img,
    el("p", { class: "muted", text: "员工扫码填写姓名和证件号码申请加入,在本页“待审核的加入申请”中通过即可。" }),
    el("p", { class: "gp-mono gp-small", text: page.group.joinUrl }),
    el("div", { class: "gp-actions" }, el("button", { type: "button", class: "secondary", text: "下载二维码图片", on: { click: async () => {
      try {
        await download(`${page.path}/qr.png`, `${page.id}-二维码.png`);
      } catch (err) {
        message(msg, "error", errorWords(err));
      }
    } } })),
    msg);
  try {
    const res = await request(`${page.path}/qr.png`, { raw: true });
    img.src = URL.createObjectURL(await res.blob());
  } catch (err) {
    img.hidden = true;
    message(msg, "error", `二维码加载失败:${errorWords(err)}`);
  }
}
