// The agent console: queues per tier with SLA countdowns, live over server-sent events; a handoff view
// with the bot's context, the transcript, replies, notes, escalate / resolve / return to the bot.
import { $, Api, countdown, h, hasRoute, signIn, streamEvents } from "./common.mjs";
import { setUpKeys } from "./console-keys.mjs";
import { languageName, renderContext, renderDetail } from "./console-view.mjs";

const TIERS = ["l2", "l3", "l4"];
const TIER_NAMES = { l2: "L2", l3: "L3", l4: "L4 vendor" };
const MINE_KEY = "helpdesk-console:mine";
const api = new Api("helpdesk-console:token");

const state = {
  tiers: [],
  tier: null,
  queues: {},
  mine: JSON.parse(sessionStorage.getItem(MINE_KEY) || "[]"),
  mineData: {},
  unread: new Set(),
  current: null,
  focusNext: null,
  selected: 0,
  optional: {},
};

async function visibleTiers() {
  const seen = [];
  let lastError = null;
  for (const tier of TIERS) {
    try {
      state.queues[tier] = await api.get(`/api/v1/queues/${tier}`);
      seen.push(tier);
    } catch (error) {
      if (error.status === 401) throw error;
      lastError = error;
    }
  }
  if (!seen.length) throw lastError || new Error("This token may not see any queue.");
  return seen;
}

function saveMine() {
  sessionStorage.setItem(MINE_KEY, JSON.stringify(state.mine));
}

// ---- queues -----------------------------------------------------------------------------------------

async function loadQueues() {
  await Promise.all(state.tiers.map(async (tier) => {
    try {
      state.queues[tier] = await api.get(`/api/v1/queues/${tier}`);
    } catch (error) {
      console.warn("queue", tier, error);
    }
  }));
  renderTabs();
  renderQueue();
}

function renderTabs() {
  $("#tiers").replaceChildren(...state.tiers.map((tier, index) => {
    const count = state.queues[tier]?.count ?? 0;
    return h("button", {
      type: "button", role: "tab", id: `tab-${tier}`, "aria-selected": String(tier === state.tier),
      "aria-controls": "queue", "aria-keyshortcuts": String(index + 1),
      onclick: () => selectTier(tier),
    }, `${TIER_NAMES[tier]} `, h("span", { class: "count", text: String(count), "aria-label": `${count} waiting` }));
  }));
}

function selectTier(tier) {
  state.tier = tier;
  state.selected = 0;
  renderTabs();
  renderQueue();
}

function queueItem(handoff, { selected, unread }) {
  const sla = countdown(handoff.sla?.first_response_due);
  return h("li", {},
    h("button", {
      type: "button", class: `item${selected ? " selected" : ""}`, "aria-current": selected ? "true" : false,
      "data-id": handoff.id, onclick: () => openHandoff(handoff.id),
    },
    h("span", { class: "row" },
      h("strong", { text: handoff.number }),
      h("span", { class: `prio ${handoff.priority}`, text: handoff.priority }),
      h("span", { class: "lang", lang: handoff.language || "en", title: languageName(handoff.language), text: (handoff.language || "en").toUpperCase() }),
      unread ? h("span", { class: "badge", text: "new message" }) : null,
      handoff.status === "waiting"
        ? h("span", { class: `sla ${handoff.sla?.breached ? "overdue" : sla.state}`, "data-due": handoff.sla?.first_response_due || "", text: sla.text })
        : h("span", { class: "status", text: handoff.status })),
    h("span", { class: "summary", text: handoff.summary || handoff.reason || "" }),
    h("span", { class: "meta", text: [handoff.customer?.name || handoff.customer?.email || "unknown customer", handoff.category, handoff.channel].filter(Boolean).join(" · ") })));
}

function renderQueue() {
  const handoffs = state.queues[state.tier]?.handoffs || [];
  state.selected = Math.min(state.selected, Math.max(0, handoffs.length - 1));
  const list = $("#queue");
  list.setAttribute("aria-labelledby", `tab-${state.tier}`);
  list.replaceChildren(...(handoffs.length
    ? handoffs.map((handoff, index) => queueItem(handoff, { selected: index === state.selected }))
    : [h("li", { class: "empty", text: "Nobody is waiting." })]));
  const mine = state.mine.map((id) => state.mineData[id]).filter(Boolean);
  $("#mine").replaceChildren(...(mine.length
    ? mine.map((handoff) => queueItem(handoff, { selected: state.current?.id === handoff.id, unread: state.unread.has(handoff.id) }))
    : [h("li", { class: "empty", text: "Handoffs you claim stay here." })]));
}

async function refreshMine() {
  for (const id of [...state.mine]) {
    try {
      const handoff = await api.get(`/api/v1/handoffs/${id}`);
      if (handoff.status === "resolved" || !state.tiers.includes(handoff.tier)) forget(id);
      else state.mineData[id] = handoff;
    } catch (error) {
      if (error.status === 403 || error.status === 404) forget(id);
    }
  }
}

function forget(id) {
  state.mine = state.mine.filter((other) => other !== id);
  delete state.mineData[id];
  state.unread.delete(id);
  saveMine();
}

// ---- a handoff ---------------------------------------------------------------------------------------

let loads = 0;

async function openHandoff(id, { focus = true } = {}) {
  const load = ++loads;
  try {
    const handoff = await api.get(`/api/v1/handoffs/${id}`);
    if (load !== loads) return; // a later load is on its way: never show an older state over it
    state.current = handoff;
  } catch (error) {
    if (load !== loads) return;
    if (error.status === 403 || error.status === 404) {
      // Escalated out of our tier (or gone): it is someone else's now.
      forget(id);
      if (state.current?.id === id) state.current = null;
      $("#context").replaceChildren();
      $("#detail").replaceChildren(h("p", { class: "placeholder", text: error.message }));
      renderQueue();
    } else {
      toast(error.message);
    }
    return;
  }
  state.unread.delete(id);
  if (history.replaceState) history.replaceState(null, "", `#handoff-${id}`);
  render();
  if (focus) $("#detail").focus();
}

function render() {
  const handoff = state.current;
  if (!handoff) return;
  if (state.mine.includes(handoff.id)) {
    if (handoff.status === "resolved" || !state.tiers.includes(handoff.tier)) forget(handoff.id);
    else state.mineData[handoff.id] = handoff;
  }
  // A live update must not take the agent's half-written reply, nor the focus, away.
  const draft = $("#reply")?.value || "";
  const note = $("#note")?.value || "";
  const focused = document.activeElement?.id;
  const caret = document.activeElement?.selectionStart;
  renderDetail($("#detail"), handoff, { actions, optional: state.optional, canEscalate: nextTiers(handoff).length > 0 });
  renderContext($("#context"), handoff);
  if ($("#reply")) $("#reply").value = draft;
  if ($("#note")) $("#note").value = note;
  const wanted = state.focusNext || (["reply", "note"].includes(focused) ? focused : null);
  const refocus = wanted ? document.getElementById(wanted) : null;
  if (refocus && !refocus.disabled) {
    refocus.focus();
    if (wanted === focused && typeof caret === "number") refocus.setSelectionRange(caret, caret);
    state.focusNext = null;
  }
  renderQueue();
}

function nextTiers(handoff) {
  return TIERS.slice(TIERS.indexOf(handoff.tier) + 1);
}

async function act(promise, done) {
  try {
    const result = await promise;
    if (done) done(result);
    return result;
  } catch (error) {
    toast(error.message);
    return null;
  } finally {
    if (state.current) await openHandoff(state.current.id, { focus: false });
    await loadQueues();
  }
}

const actions = {
  async claim() {
    const handoff = state.current;
    if (!handoff || handoff.status !== "waiting") return;
    // The reply box gets the focus as soon as a render shows the claimed handoff (live loads race).
    state.focusNext = "reply";
    const claimed = await act(api.post(`/api/v1/handoffs/${handoff.id}/claim`), () => {
      if (!state.mine.includes(handoff.id)) state.mine.push(handoff.id);
      saveMine();
    });
    if (!claimed) state.focusNext = null;
  },
  async reply(text) {
    const handoff = state.current;
    if (!handoff || !text.trim()) return false;
    return Boolean(await act(api.postOnce(`/api/v1/handoffs/${handoff.id}/messages`, { text })));
  },
  async note(text) {
    const handoff = state.current;
    if (!handoff || !text.trim()) return false;
    return Boolean(await act(api.post(`/api/v1/handoffs/${handoff.id}/notes`, { text })));
  },
  escalate() {
    const handoff = state.current;
    if (!handoff || handoff.status === "resolved") return;
    const select = $("#escalate-tier");
    select.replaceChildren(...nextTiers(handoff).map((tier) => h("option", { value: tier, text: TIER_NAMES[tier] })));
    openDialog("#escalate-dialog", async (form) => {
      const note = form.note.value.trim();
      await api.post(`/api/v1/handoffs/${handoff.id}/escalate`, { tier: form.tier.value, note: note || null });
      await act(Promise.resolve());
    });
  },
  resolve(returnToBot = false) {
    const handoff = state.current;
    if (!handoff || handoff.status === "resolved") return;
    $("#return-to-bot").checked = returnToBot;
    $("#resolution").value = returnToBot ? "Handed back to the bot." : "";
    openDialog("#resolve-dialog", async (form) => {
      await api.post(`/api/v1/handoffs/${handoff.id}/resolve`, {
        resolution: form.resolution.value.trim(), return_to_bot: form.return_to_bot.checked,
      });
      await act(Promise.resolve());
    });
  },
  async draftArticle() {
    const handoff = state.current;
    if (!handoff) return;
    try {
      const draft = await api.post(`/api/v1/kb/drafts/from-handoff/${handoff.id}`);
      toast(`Draft article “${draft.title}” created for the knowledge editors.`, true);
    } catch (error) {
      toast(error.message);
    }
  },
  async release() {
    const handoff = state.current;
    if (handoff) await act(api.post(`/api/v1/handoffs/${handoff.id}/release`), () => forget(handoff.id));
  },
};

function openDialog(selector, submit) {
  const dialog = $(selector);
  const form = dialog.querySelector("form");
  const error = form.querySelector(".error");
  error.textContent = "";
  form.onsubmit = async (event) => {
    if (event.submitter?.value === "cancel") return;
    event.preventDefault();
    try {
      await submit(form);
      form.reset();
      dialog.close();
    } catch (failure) {
      error.textContent = failure.message;
    }
  };
  dialog.showModal();
}

function toast(message, ok = false) {
  const node = h("p", { class: `toast${ok ? " ok" : ""}`, role: ok ? "status" : "alert", text: message });
  document.body.append(node);
  setTimeout(() => node.remove(), 6000);
}

// ---- live updates ------------------------------------------------------------------------------------

let queueTimer = 0;
let detailTimer = 0;

function onEvent(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch {
    return;
  }
  clearTimeout(queueTimer);
  queueTimer = setTimeout(async () => {
    await refreshMine();
    await loadQueues();
  }, 100);
  if (event.handoff_id === state.current?.id) {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(() => openHandoff(event.handoff_id, { focus: false }), 50);
  } else if (event.kind === "message.customer" && state.mine.includes(event.handoff_id)) {
    state.unread.add(event.handoff_id);
  }
}

function onStreamState(value) {
  const live = $("#live");
  live.textContent = value === "live" ? "live" : value === "closed" ? "signed out" : "reconnecting…";
  live.className = `live ${value}`;
  if (value === "closed") signOut();
  // Whatever happened before the stream (re)started is in the queues: fetch them once.
  if (value === "live") loadQueues();
}

// SLA countdowns tick every second without refetching.
setInterval(() => {
  for (const node of document.querySelectorAll("[data-due]")) {
    if (!node.dataset.due) continue;
    const sla = countdown(node.dataset.due);
    node.textContent = node.dataset.label ? `${node.dataset.label} ${sla.text}` : sla.text;
    node.classList.remove("ok", "soon", "overdue");
    node.classList.add(sla.state);
  }
}, 1000);

// ---- start -------------------------------------------------------------------------------------------

let stopStream = null;

function signOut() {
  stopStream?.();
  api.token = "";
  sessionStorage.removeItem(MINE_KEY);
  location.hash = "";
  location.reload();
}

async function start() {
  setUpKeys({ state, actions, selectTier, renderQueue, openHandoff });
  state.tiers = await signIn(api, $("#sign-in"), visibleTiers);
  state.tier = state.tiers[0];
  state.optional.release = await hasRoute("post", "/api/v1/handoffs/{handoff_id}/release");
  state.optional.draftFromResolution = await hasRoute("post", "/api/v1/kb/drafts/from-handoff/{handoff_id}");
  $("#app").hidden = false;
  $("#sign-out").hidden = false;
  $("#sign-out").addEventListener("click", signOut);
  $("#whoami").textContent = state.tiers.length > 1 ? "lead: all queues" : `${TIER_NAMES[state.tiers[0]]} queue`;
  await refreshMine();
  await loadQueues();
  stopStream = streamEvents("/api/v1/events", () => api.token, onEvent, onStreamState);
  const fromHash = /^#handoff-(\d+)$/.exec(location.hash);
  if (fromHash) openHandoff(Number(fromHash[1]), { focus: false });
}

start();
