// The console's handoff view and context panel. Every value from a customer, the bot or an agent goes
// into the page as text (textContent), never as HTML.
import { clock, countdown, dateTime, h } from "./common.mjs";

const ROLE_NAMES = { customer: "Customer", bot: "Assistant", agent: "Engineer" };
const KNOWN_CONTEXT = new Set(["intent", "confidence", "slots", "kb_articles_tried", "steps_tried"]);

function show(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function due(label, value) {
  const sla = countdown(value);
  return h("span", { class: `sla ${sla.state}`, "data-due": value || "", "data-label": label, text: `${label} ${sla.text}` });
}

function button(text, key, onclick, attrs = {}) {
  return h("button", { type: "button", class: attrs.primary ? "primary" : "", "aria-keyshortcuts": key || false, onclick, disabled: attrs.disabled },
    text, key ? h("kbd", { "aria-hidden": "true", text: key }) : null);
}

const LANGUAGES = { en: "English", de: "Deutsch" };

// The conversation's language, named in itself: the engineer replies in it.
export function languageName(code) {
  return LANGUAGES[code || "en"] || code;
}

export function renderDetail(container, handoff, { actions, optional, canEscalate }) {
  const open = handoff.status !== "resolved";
  const assigned = handoff.status === "assigned";
  const meta = [
    handoff.tier.toUpperCase(), handoff.priority, handoff.category, handoff.channel, languageName(handoff.language),
    handoff.assignee ? `with ${handoff.assignee.name}` : null,
  ].filter(Boolean).join(" · ");

  const head = h("header", { class: "detail-head" },
    h("h2", { id: "detail-title" }, `${handoff.number} `, h("span", { class: `pill ${handoff.status}`, text: handoff.status })),
    h("p", { class: "meta", text: meta }),
    open ? h("p", { class: "slas" },
      (handoff.transcript || []).some((line) => line.role === "agent") ? null : due("First response", handoff.sla?.first_response_due),
      due("Resolution", handoff.sla?.resolution_due)) : h("p", { class: "meta", text: `Resolved: ${handoff.resolution || ""}` }),
    h("div", { class: "actions", role: "toolbar", "aria-label": "Actions" },
      handoff.status === "waiting" ? button("Claim", "c", () => actions.claim(), { primary: true }) : null,
      open && canEscalate ? button("Escalate", "e", () => actions.escalate(), { disabled: !assigned }) : null,
      open ? button("Resolve", "x", () => actions.resolve(false), { disabled: !assigned }) : null,
      open ? button("Return to bot", "b", () => actions.resolve(true), { disabled: !assigned }) : null,
      open && optional.release && assigned ? button("Release", null, () => actions.release()) : null,
      !open && optional.draftFromResolution ? button("Draft a knowledge article from this", null, () => actions.draftArticle()) : null));

  const transcript = h("ol", { class: "transcript", role: "log", "aria-label": "Transcript", "aria-live": "polite" },
    ...(handoff.transcript || []).map((line) => h("li", { class: `line ${line.role}` },
      h("span", { class: "who", text: line.role === "customer" ? handoff.customer?.name || "Customer" : line.author && line.role === "agent" ? line.author : ROLE_NAMES[line.role] || line.role }),
      h("time", { datetime: line.at || "", text: clock(line.at) }),
      h("p", { class: "text", text: line.text }))));

  const reply = h("form", { class: "compose", onsubmit: async (event) => {
    event.preventDefault();
    const box = event.target.querySelector("textarea");
    const text = box.value;
    box.value = "";
    if (!(await actions.reply(text))) box.value = text;
  } },
  h("label", { for: "reply", text: assigned ? "Reply to the customer" : "Reply to the customer (claim the handoff first)" }),
  h("textarea", { id: "reply", rows: "3", maxlength: "4000", disabled: !assigned, "aria-keyshortcuts": "r" }),
  h("button", { type: "submit", class: "primary", disabled: !assigned, text: "Send" }));
  ctrlEnter(reply);

  const notes = h("section", { class: "notes", "aria-labelledby": "notes-title" },
    h("h3", { id: "notes-title", text: "Private notes" }),
    h("ul", {}, ...(handoff.notes || []).map((note) => h("li", {},
      h("span", { class: "who", text: note.author || "" }), h("time", { datetime: note.at || "", text: clock(note.at) }),
      h("p", { class: "text", text: note.text })))),
    (() => {
      const form = h("form", { class: "compose", onsubmit: async (event) => {
        event.preventDefault();
        const box = event.target.querySelector("textarea");
        const text = box.value;
        box.value = "";
        if (!(await actions.note(text))) box.value = text;
      } },
      h("label", { for: "note", text: "Add a private note (agents only)" }),
      h("textarea", { id: "note", rows: "2", maxlength: "4000", "aria-keyshortcuts": "n" }),
      h("button", { type: "submit", text: "Add note" }));
      ctrlEnter(form);
      return form;
    })());

  const history = h("details", { class: "history" }, h("summary", { text: "History" }),
    h("ol", {}, ...(handoff.history || []).map((event) => h("li", {},
      h("time", { datetime: event.at || "", text: dateTime(event.at) }), ` ${event.kind} · ${event.actor} · ${event.tier}`))));

  container.setAttribute("aria-labelledby", "detail-title");
  container.replaceChildren(head, h("h3", { class: "sr-only", text: "Transcript" }), transcript, reply, notes, history);
  transcript.scrollTop = transcript.scrollHeight;
}

function ctrlEnter(form) {
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

function pairs(entries) {
  if (!entries.length) return h("p", { class: "none", text: "none" });
  return h("dl", {}, ...entries.flatMap(([key, value]) => [h("dt", { text: key }), h("dd", { text: show(value) })]));
}

function articleLine(article) {
  if (typeof article !== "object" || article === null) return h("li", { text: show(article) });
  const title = article.title || article.article_id || article.id || "article";
  const verdict = article.verdict ?? article.outcome ?? (article.helpful === true ? "helpful" : article.helpful === false ? "not helpful" : null);
  return h("li", {}, h("span", { text: String(title) }),
    verdict ? h("span", { class: `verdict ${String(verdict).replace(/\W+/g, "-")}`, text: String(verdict) }) : null,
    article.score !== undefined ? h("span", { class: "score", text: `score ${show(article.score)}` }) : null);
}

function stepLine(step) {
  if (typeof step !== "object" || step === null) return h("li", { text: show(step) });
  const text = step.step || step.title || step.text || step.name || JSON.stringify(step);
  const outcome = step.outcome ?? step.result ?? step.status;
  return h("li", {}, h("span", { text: String(text) }), outcome ? h("span", { class: "verdict", text: String(outcome) }) : null);
}

export function renderContext(container, handoff) {
  const customer = handoff.customer || {};
  const context = handoff.context || {};
  const confidence = typeof context.confidence === "number" ? `${Math.round(context.confidence * 100)}%` : null;
  const extra = Object.entries(context).filter(([key]) => !KNOWN_CONTEXT.has(key));
  container.replaceChildren(
    h("section", { "aria-labelledby": "ctx-customer" },
      h("h2", { id: "ctx-customer", text: "Customer" }),
      h("p", { class: "customer" }, h("strong", { text: customer.name || "Unknown" }), " ",
        h("span", { class: `verified ${customer.verified ? "yes" : "no"}`, text: customer.verified ? "✓ verified" : "not verified" })),
      pairs([["Email", customer.email], ["User id", customer.id], ["Language", languageName(handoff.language)]])),
    h("section", { "aria-labelledby": "ctx-bot" },
      h("h2", { id: "ctx-bot", text: "What the bot understood" }),
      pairs([["Intent", context.intent], ["Confidence", confidence], ["Reason", handoff.reason], ["Summary", handoff.summary]]),
      h("h3", { text: "Slots" }), pairs(Object.entries(context.slots || {})),
      h("h3", { text: "Articles tried" }),
      context.kb_articles_tried?.length ? h("ul", { class: "tried" }, ...context.kb_articles_tried.map(articleLine)) : h("p", { class: "none", text: "none" }),
      h("h3", { text: "Steps tried" }),
      context.steps_tried?.length ? h("ol", { class: "tried" }, ...context.steps_tried.map(stepLine)) : h("p", { class: "none", text: "none" }),
      extra.length ? h("details", {}, h("summary", { text: "More context" }), pairs(extra)) : null));
}
