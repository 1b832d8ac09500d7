// gc.js: what every page shares. Pages build their DOM with el() and
// textContent only, never innerHTML, so whatever a person typed shows as
// text.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

// base is the path prefix the API and pages live under (an API Gateway
// stage such as "/dev", or "" locally).
export const base = meta("gc-base");
export const pageGrid = meta("gc-grid");
export const pageGroup = meta("gc-group");

// el builds an element. props: class, text, attrs, on (events), and any
// property (value, type, …). Children are nodes or strings (as text).
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "attrs") for (const [a, av] of Object.entries(v)) e.setAttribute(a, av);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(e.dataset, v);
    // Attributes whose property has another name: <label for>, <form novalidate>.
    else if (k === "for") e.htmlFor = v;
    else if (k === "novalidate") e.noValidate = v;
    else e[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// ApiError is a refused request: status, the API's error code and its
// field problems.
export class ApiError extends Error {
  constructor(status, code, fields, retryAfter) {
    super(code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.fields = fields ?? [];
    this.retryAfter = retryAfter;
  }
}

const TOKEN_KEY = "gc.token";
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? "",
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

// request calls the API: JSON in and out unless opts.raw (a Response is
// returned) or opts.body is a Blob/string with opts.type.
export async function request(path, opts = {}) {
  const headers = { Accept: "application/json" };
  const t = token.get();
  if (t && opts.auth !== false) headers.Authorization = `Bearer ${t}`;
  let body;
  if (opts.body !== undefined) {
    if (opts.type) {
      headers["Content-Type"] = opts.type;
      body = opts.body;
    } else {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
  }
  let res;
  try {
    res = await fetch(base + path, { method: opts.method ?? "GET", headers, body });
  } catch {
    throw new ApiError(0, "network");
  }
  if (!res.ok) {
    let data = {};
    try { data = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, data.error, data.fields, res.headers.get("Retry-After"));
  }
  if (opts.raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

// download fetches a staff file with the token and saves it as name.
export async function download(path, name) {
  const res = await request(path, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Words the pages share.
export const riskText = { none: "无风险", low: "低风险", medium: "中风险", high: "高风险" };
export const statusText = { new: "待联系", in_progress: "跟进中", closed: "已办结" };
export const roleText = { district_admin: "区指挥部", grid_worker: "网格员", group_admin: "单位管理员", health_feed: "健康数据接口" };

// reasonText turns an API reason code into words a person can act on.
const reasonText = {
  required: "必填",
  invalid: "格式不正确",
  format: "证件号码格式不正确",
  checksum: "身份证号码校验位不正确,请核对最后一位",
  birth_date: "身份证号码中的出生日期不正确",
  region: "身份证号码前两位地区码不正确",
  first_generation: "15位身份证已停用,请填写18位号码",
  too_long: "内容过长",
  invalid_characters: "含有无法识别的字符",
  unknown: "请选择有效的选项",
  unknown_area: "请选择县(区)",
  invalid_date: "日期不正确",
  in_future: "已抵达的日期不能晚于今天",
  too_old: "抵达已超过14天,无需报备",
  in_past: "计划抵达日期不能早于今天",
  too_far_ahead: "只能提前30天报备",
  outside_7_days: "行程日期须在抵达前7天内",
  too_many: "行程最多30条",
  unknown_field: "不认识的字段",
  wrong_type: "类型不正确",
  not_a_number: "须为数字",
  duplicate: "重复",
  excel_number: "被 Excel 改成了科学计数法,请按文本填写",
  not_allowed: "此项无需填写",
  unexpected: "此项无需填写",
  past: "不能早于今天",
  out_of_range: "超出范围",
  before_from: "结束日期早于开始日期",
  same_grid: "报备已在本网格",
  another_person: "与任务人员的证件不一致",
  already_registered: "此人已在人口底册中",
  outside_task_community: "只能登记本网格所在社区的人员",
};
// fieldReasonText says some reasons better for one field (its last part:
// "destination.address" is "address").
const fieldReasonText = {
  "name:required": "请填写姓名",
  "idNumber:required": "请填写证件号码",
  "phone:required": "请填写手机号码",
  "phone:invalid": "请填写11位手机号码",
  "address:required": "请填写详细地址",
  "fromAreaCode:required": "请选择出发地的县(区)",
};
export const reasonWords = (r, field = "") => fieldReasonText[`${field.split(".").pop()}:${r}`] ?? reasonText[r] ?? r;

const codeText = {
  network: "网络异常,请稍后再试",
  unauthorized: "登录已失效,请重新登录",
  forbidden: "无权访问",
  not_found: "未找到",
  unknown_grid: "此网格码已停用,请扫描最新的网格码",
  rate_limited: "提交过于频繁,请稍后再试",
  body_too_large: "内容过大",
  internal: "系统繁忙,请稍后再试",
  changed_meanwhile: "他人刚刚修改过,请刷新后再试",
  already_closed: "已办结",
  refresh_in_progress: "今日名单正在生成中",
};
export function errorWords(err) {
  if (err instanceof ApiError) {
    if (err.status === 429) {
      const wait = Number(err.retryAfter);
      return wait > 0 ? `提交过于频繁,请${wait}秒后再试` : codeText.rate_limited;
    }
    return codeText[err.code] ?? (err.fields.length ? "请修改标出的内容" : `请求失败(${err.code || err.status})`);
  }
  return String(err?.message ?? err);
}

// showFieldErrors writes each problem next to its field: an element with
// data-error-for="<field>" (the API's field name). Problems without a place
// go to the form's general message. It returns how many were shown.
// words turns a problem into text; reasonWords by default.
export function showFieldErrors(form, problems, general, words = (p) => reasonWords(p.reason, p.field)) {
  for (const e of form.querySelectorAll("[data-error-for]")) e.textContent = "";
  for (const e of form.querySelectorAll(".invalid")) e.classList.remove("invalid");
  const rest = [];
  for (const p of problems) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(p.field)}"]`);
    if (slot) {
      slot.textContent = words(p);
      slot.closest(".field")?.classList.add("invalid");
    } else {
      rest.push(p);
    }
  }
  if (general) general.textContent = rest.map((p) => `${p.field}: ${words(p)}`).join(";");
  return problems.length;
}

// staffLogin shows the token box unless a token is kept, checks it with
// GET /v1/me, and calls ready(me). roles lists who may use the page.
export async function staffLogin(main, roles, ready) {
  const who = document.getElementById("who");
  const showLogin = (message) => {
    const box = el("textarea", { id: "token", rows: 4, placeholder: "粘贴登录令牌(bin/gridcode token …)", attrs: { autocomplete: "off" } });
    const msg = el("p", { class: "error", text: message ?? "" });
    const form = el("form", { class: "card login", on: { submit: async (ev) => {
      ev.preventDefault();
      token.set(box.value.trim());
      await check();
    } } }, el("h1", { text: "登录" }), el("label", { for: "token", text: "登录令牌" }), box, msg,
      el("button", { type: "submit", text: "登录" }));
    clear(main, form);
  };
  const check = async () => {
    if (!token.get()) return showLogin();
    let me;
    try {
      me = await request("/v1/me");
    } catch (err) {
      // A refused token is dropped; a network blip or a busy server keeps
      // it, so the worker on a poor connection need not paste it again.
      if (err.status === 401 || err.status === 403) token.clear();
      return showLogin(errorWords(err));
    }
    if (!roles.includes(me.role)) {
      token.clear();
      return showLogin(`此页面供${roles.map((r) => roleText[r]).join("、")}使用`);
    }
    const grids = me.grids?.length ? me.grids : (me.grid ? [me.grid] : []);
    clear(who, `${roleText[me.role]}${grids.length ? " · " + grids.join("、") : ""}${me.group ? " · " + me.group : ""} `,
      el("button", { class: "link", text: "退出", on: { click: () => { token.clear(); location.reload(); } } }));
    clear(main);
    await ready(me);
  };
  await check();
}

// day formats a date for the district (Asia/Shanghai).
export function districtDay(d = new Date()) {
  return new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai" }).format(d);
}
// addDays moves a YYYY-MM-DD day by n days (in UTC, so no zone shifts it).
export function addDays(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function districtTime(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

// Client-side checks that match the API's (shared/idcard, shared/phone), so
// a typo is marked before the form is sent. The API checks again.

// narrow maps full-width digits, letters and plus (from Chinese input
// methods) to ASCII.
export const narrow = (s) => s.replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/\u3000/g, " ");

// idNumberProblem returns the API's reason code for a resident ID number,
// or "" when it passes, checking what the API checks in the same order:
// format, the GB 11643 check digit, the province, the birth date.
export function idNumberProblem(raw) {
  const id = narrow(raw).replace(/\s+/g, "").toUpperCase();
  if (id === "") return "required";
  if (/^\d{15}$/.test(id)) return "first_generation";
  if (!/^\d{17}[\dX]$/.test(id)) return "format";
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * weights[i];
  if ("10X98765432"[sum % 11] !== id[17]) return "checksum";
  if (!provinces.has(id.slice(0, 2))) return "region";
  // A real calendar day from 1900 up to today in the district.
  const birth = `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
  const d = new Date(birth + "T00:00:00Z");
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== birth || birth < "1900-01-01" || birth > districtDay()) return "birth_date";
  return "";
}

// provinces are GB/T 2260's province-level prefixes as shared/area knows
// them (71, 81, 82: Taiwan, Hong Kong, Macao; 83: their residence permits).
const provinces = new Set("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split(" "));

// phoneProblem returns "required", "invalid" or "" as the API would.
export function phoneProblem(raw) {
  let p = narrow(raw).replace(/[\s\-.()\u2010-\u2014\u2212\u00a0]/g, "");
  if (p === "") return "required";
  if (/^\+86\d{11}$/.test(p)) p = p.slice(3);
  else if (/^0086\d{11}$/.test(p)) p = p.slice(4);
  else if (/^86\d{11}$/.test(p)) p = p.slice(2);
  return /^1[3-9]\d{9}$/.test(p) ? "" : "invalid";
}

// svg builds an SVG element, as el() builds HTML: attrs are attributes
// (presentation attributes such as fill, x and height are allowed by the
// CSP, a style attribute is not), except text (textContent), class,
// dataset and on (events). Children are nodes or strings (as text).
const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// ---- Shared by the staff pages (console, dashboard, group) ----

// field is one field of a form: its label, the input (given an id when it
// has none, so the label names it), what goes below the input (a hint)
// and the slot for its error, named as the API names the field (no slot
// when errorFor is empty).
let fieldIds = 0;
export function field(label, input, errorFor, ...below) {
  if (!input.id) input.id = `gc-field-${++fieldIds}`;
  return el("div", { class: "field" }, el("label", { for: input.id, text: label }), input, ...below,
    errorFor ? el("span", { attrs: { "data-error-for": errorFor } }) : null);
}

// loadAreas fetches the county table (GET /v1/areas, public) once per
// page; after a failure the next call asks again.
let areasOnce = null;
export function loadAreas() {
  areasOnce ??= request("/v1/areas", { auth: false }).catch((err) => {
    areasOnce = null;
    throw err;
  });
  return areasOnce;
}

// areaName names a county of the table loadAreas gives as people write it,
// province, city, county ("广东省广州市天河区"), without a city named as its
// province (北京市) or as the county itself (济源市); "" when the table
// lacks the code.
const areaNames = new WeakMap(); // table -> Map(code -> name)
export function areaName(areas, code) {
  if (!areas?.provinces) return "";
  let names = areaNames.get(areas);
  if (!names) {
    names = new Map();
    for (const p of areas.provinces) {
      for (const c of p.cities) {
        for (const k of c.counties) {
          const city = [p.name, k.name, "市辖区", "县"].includes(c.name) ? "" : c.name;
          names.set(k.code, p.name + city + k.name);
        }
      }
    }
    areaNames.set(areas, names);
  }
  return names.get(code) ?? "";
}

// idTypeText names the kinds of document as the roster's idType column
// and the join form do.
export const idTypeText = {
  resident_id: "居民身份证", passport: "护照",
  hk_macao_permit: "港澳居民来往内地通行证", taiwan_permit: "台湾居民来往大陆通行证",
};

// UNASSIGNED is the district's pool: reports no grid took, for the
// district office to hand out.
export const UNASSIGNED = "unassigned";
// gridLabel names a grid as the pages show it: name, else its code; the
// pool by what it is.
export const gridLabel = (code, name) => (code === UNASSIGNED ? "区指挥部待分配" : name || code);
