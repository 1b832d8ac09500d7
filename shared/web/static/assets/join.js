// join.js: the self-join page a group's QR code opens (/join/{groupId}).
// Public: a member asks to join, and the group's administrator approves
// the request on /group. The checks here match the API's (the resident ID
// check digit, the phone); the API checks again and its field problems are
// shown next to the fields.
import { el, clear, request, showFieldErrors, errorWords, pageGroup, idNumberProblem, phoneProblem } from "./gc.js";

const form = document.getElementById("join");
const done = document.getElementById("done");
const general = document.getElementById("form-error");
const submit = document.getElementById("submit");
const field = (id) => document.getElementById(id);

// Hints for the document number of each kind.
const placeholders = {
  resident_id: "18位,最后一位可能是X",
  passport: "护照号码,如 E12345678",
  hk_macao_permit: "H或M开头,如 H12345678",
  taiwan_permit: "8位或10位数字",
};

// values reads the form as the API takes it.
function values() {
  return {
    name: field("name").value.trim(),
    idType: field("idType").value,
    idNumber: field("idNumber").value.trim(),
    phone: field("phone").value.trim(),
  };
}

// localProblems checks what the API would refuse that the page can tell
// by itself: empty fields, a wrong check digit, a phone that is no mobile.
function localProblems(v) {
  const problems = [];
  if (v.name === "") problems.push({ field: "name", reason: "required" });
  else if ([...v.name].length > 30) problems.push({ field: "name", reason: "too_long" });
  if (v.idNumber === "") {
    problems.push({ field: "idNumber", reason: "required" });
  } else if (v.idType === "resident_id") {
    const reason = idNumberProblem(v.idNumber);
    if (reason) problems.push({ field: "idNumber", reason });
  }
  if (v.phone !== "") {
    const reason = phoneProblem(v.phone);
    if (reason) problems.push({ field: "phone", reason });
  }
  return problems;
}

// submitted says the person tried to send the form: from then on every
// problem shows; before, only those of fields they filled in.
let submitted = false;
// The API's problems with what was sent: each shows until its field changes.
let sent = null;
let apiProblems = [];

// check marks the form's problems and returns how many the page found
// itself (the API's are shown, not counted: the API checks again).
function check() {
  const v = values();
  general.textContent = "";
  const local = localProblems(v).filter((p) => submitted || v[p.field] !== "");
  const still = apiProblems.filter((p) => sent && v[p.field] === sent[p.field] && !local.some((l) => l.field === p.field));
  showFieldErrors(form, [...local, ...still], general);
  return local.length;
}

field("idType").addEventListener("change", () => {
  field("idNumber").placeholder = placeholders[field("idType").value] ?? "";
});
// A typo is marked as soon as the person leaves the field.
for (const id of ["name", "idType", "idNumber", "phone"]) field(id).addEventListener("blur", check);

if (!pageGroup) {
  clear(form, el("h1", { text: "加入单位" }), el("p", { class: "error", text: "链接不完整,请重新扫描单位的二维码。" }));
} else {
  // Name the group, so a person knows whose list they are joining.
  request(`/v1/groups/${encodeURIComponent(pageGroup)}/join`, { auth: false }).then((card) => {
    const name = document.getElementById("group-name");
    clear(name, "您正在加入:", el("strong", { text: card.name }), card.address ? el("span", { class: "muted", text: ` (${card.address})` }) : null);
    name.hidden = false;
  }, (err) => {
    general.textContent = err.status === 404 ? "此单位码无效,请向单位管理员索取最新的二维码。" : errorWords(err);
  });
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  submitted = true;
  if (check() > 0) {
    form.querySelector(".invalid input, .invalid select")?.focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = "提交中…";
  sent = values();
  apiProblems = [];
  try {
    await request(`/v1/groups/${encodeURIComponent(pageGroup)}/join`, { method: "POST", body: sent, auth: false });
    form.hidden = true;
    clear(done,
      el("h1", { class: "ok", text: "已提交,等待单位管理员审核" }),
      el("p", { text: "审核通过后,单位每天的健康名单将包含您。姓名或手机号码填错了,可用同一证件号码重新提交,以最后一次为准。" }),
      el("button", { type: "button", class: "secondary", text: "重新填写", on: { click: () => { done.hidden = true; form.hidden = false; } } }));
    done.hidden = false;
  } catch (err) {
    if (err.status === 404) {
      general.textContent = "此单位码无效,请向单位管理员索取最新的二维码。";
    } else {
      apiProblems = err.fields ?? [];
      const shown = showFieldErrors(form, apiProblems, general);
      if (!general.textContent) general.textContent = shown > 0 ? "请修改标出的内容" : errorWords(err);
    }
  } finally {
    submit.disabled = false;
    submit.textContent = "提交申请";
  }
});
