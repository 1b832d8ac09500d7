// posters.js: printable A4 posters, one grid one code (一格一码). The
// office picks a town and a community and prints one poster per grid,
// each with the QR code of that grid's report form; a district-wide
// poster serves places that belong to no grid. Public, like the posters
// on the wall: only GET /v1/grids and the QR images.
import { el, clear, request, base, errorWords } from "./gc.js";

const main = document.getElementById("main");

// More posters than this at once is a town, not a community: the page
// shows the first ones and offers the rest, so 400 QR images are not
// fetched by a slip of the select.
const LIMIT = 40;

const steps = () => el("ol", { class: "poster-steps" },
  el("li", { text: "用微信或手机相机扫描上方二维码" }),
  el("li", { text: "填写身份信息和抵达前7天的行程" }),
  el("li", { text: "提交后查看风险等级和需要做的事" }),
  el("li", { text: "留意短信提示,网格员会按需与您联系" }));

function qrImage(src, alt) {
  const img = el("img", { class: "qr", src, alt, width: 512, height: 512 });
  img.addEventListener("error", () => img.after(el("p", { class: "error no-print", text: "二维码加载失败,请刷新页面后再打印" })), { once: true });
  return img;
}

function gridPoster(g) {
  return el("article", { class: "poster", dataset: { grid: g.gridCode } },
    el("p", { class: "kicker", text: "入区报备 · 一格一码" }),
    el("h2", { class: "poster-name", text: g.name }),
    el("p", { class: "sub" }, el("span", { class: "poster-town", text: g.town }), " · ", el("span", { class: "poster-community", text: g.community })),
    qrImage(`${base}/v1/grids/${encodeURIComponent(g.gridCode)}/qr.png`, `${g.name} 报备二维码`),
    el("p", { class: "code", text: g.gridCode }),
    steps(),
    el("p", { class: "foot", text: "本码仅用于本网格,报备直接交给本网格的网格员。请勿遮挡、涂改。" }));
}

function districtPoster() {
  return el("article", { class: "poster", dataset: { district: "true" } },
    el("p", { class: "kicker", text: "入区报备" }),
    el("h2", { class: "poster-name", text: "全区通用报备码" }),
    el("p", { class: "sub", text: "车站、路口等不属于具体网格的地方张贴" }),
    qrImage(`${base}/v1/qr.png`, "全区通用报备二维码"),
    steps(),
    el("p", { class: "foot", text: "扫码后请填写目的地社区,报备会交给所在网格的网格员。" }));
}

async function start() {
  let grids;
  try {
    grids = await request("/v1/grids", { auth: false });
  } catch (err) {
    clear(main, el("p", { class: "error", text: `网格列表加载失败:${errorWords(err)}` }));
    return;
  }
  // town -> community -> grids, in the directory's (code) order.
  const towns = new Map();
  for (const g of grids) {
    if (!towns.has(g.town)) towns.set(g.town, new Map());
    const communities = towns.get(g.town);
    if (!communities.has(g.community)) communities.set(g.community, []);
    communities.get(g.community).push(g);
  }

  const q = new URLSearchParams(location.search);
  const firstTown = towns.keys().next().value ?? "";
  const state = { kind: q.get("kind") === "district" ? "district" : "grid", town: firstTown, community: null, all: false };
  if (towns.has(q.get("town"))) state.town = q.get("town");
  const communitiesOf = (town) => towns.get(town) ?? new Map();
  state.community = q.has("community") && (q.get("community") === "" || communitiesOf(state.town).has(q.get("community")))
    ? q.get("community")
    : (communitiesOf(state.town).keys().next().value ?? "");

  const townSelect = el("select", { id: "town", on: { change: () => {
    state.town = townSelect.value;
    state.community = communitiesOf(state.town).keys().next().value ?? "";
    state.all = false;
    fillCommunities();
    render();
  } } }, [...towns].map(([town, cs]) => el("option", { value: town, text: `${town}(${sum(cs)})` })));
  const communitySelect = el("select", { id: "community", on: { change: () => {
    state.community = communitySelect.value;
    state.all = false;
    render();
  } } });
  const fillCommunities = () => {
    const cs = communitiesOf(state.town);
    clear(communitySelect,
      el("option", { value: "", text: `全部社区(${sum(cs)} 个网格)` }),
      [...cs].map(([name, gs]) => el("option", { value: name, text: `${name}(${gs.length})` })));
    communitySelect.value = state.community;
  };
  townSelect.value = state.town;
  fillCommunities();

  const tab = (kind, text) => el("button", { type: "button", id: `kind-${kind}`, role: "tab", text, on: { click: () => {
    state.kind = kind;
    render();
  } } });
  const tabs = el("div", { class: "tabs", role: "tablist" }, tab("grid", "网格码(一格一码)"), tab("district", "全区通用码"));
  const filters = el("div", { class: "row pst-filters" },
    el("div", { class: "field" }, el("label", { for: "town", text: "镇街" }), townSelect),
    el("div", { class: "field" }, el("label", { for: "community", text: "社区" }), communitySelect));
  const note = el("p", { id: "poster-note", attrs: { role: "status" } });
  const printBtn = el("button", { type: "button", id: "print", text: "打印海报", on: { click: () => window.print() } });
  const posters = el("div", { id: "posters", class: "posters" });

  clear(main,
    el("section", { class: "card no-print pst-controls" },
      el("h1", { text: "网格码海报" }),
      el("p", { class: "muted", text: "每个网格一张 A4 海报,贴在本网格内。扫码打开本网格的报备页,报备直接交给本网格的网格员。建议按社区逐个打印。" }),
      tabs, filters, note,
      el("div", { class: "pst-actions" }, printBtn,
        el("span", { class: "muted", text: "打印设置:A4 纵向,边距选“无”,每张海报一页。" }))),
    posters);

  function render() {
    for (const b of tabs.children) b.setAttribute("aria-selected", String(b.id === `kind-${state.kind}`));
    filters.hidden = state.kind !== "grid";
    const params = new URLSearchParams(state.kind === "district" ? { kind: "district" } : { town: state.town, community: state.community });
    history.replaceState(null, "", `${location.pathname}?${params}`);
    if (state.kind === "district") {
      clear(posters, districtPoster());
      note.textContent = "全区通用码 1 张:适合车站、路口等不属于具体网格的地方。";
      posters.dataset.ready = "district";
      return;
    }
    const cs = communitiesOf(state.town);
    const chosen = state.community ? (cs.get(state.community) ?? []) : [...cs.values()].flat();
    const shown = state.all ? chosen : chosen.slice(0, LIMIT);
    clear(posters, shown.map(gridPoster));
    const where = state.community ? `${state.town} ${state.community}` : state.town;
    clear(note, `${where}:共 ${chosen.length} 个网格,${shown.length} 张海报(每张一页 A4)。`);
    if (shown.length < chosen.length) {
      note.append(`只显示了前 ${LIMIT} 张,请按社区筛选后打印,或 `,
        el("button", { type: "button", class: "link", id: "show-all", text: `显示全部 ${chosen.length} 张`, on: { click: () => {
          state.all = true;
          render();
        } } }));
    }
    posters.dataset.ready = `${state.town}/${state.community}/${shown.length}`;
  }
  render();
}

const sum = (communities) => [...communities.values()].reduce((n, gs) => n + gs.length, 0);

start();
