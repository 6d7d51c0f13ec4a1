// The editor's side tools: revisions with diff and restore, "what would the bot answer?", and the
// knowledge-gap view with "draft an article from this".
import { $, dateTime, h, hasRoute } from "./common.mjs";
import { render } from "./markdown.mjs";
import { diffLines } from "./diff.mjs";

// ---- revisions ---------------------------------------------------------------------------------------

export async function showRevisions(api, article, { current, restored }) {
  const list = $("#revision-list");
  $("#diff-panel").hidden = true;
  $("#revisions").hidden = !article;
  if (!article) return list.replaceChildren();
  let revisions = [];
  try {
    revisions = await api.get(`/api/v1/kb/articles/${encodeURIComponent(article.id)}/revisions`);
  } catch (error) {
    return list.replaceChildren(h("li", { class: "muted", text: error.message }));
  }
  list.replaceChildren(...revisions.map((revision) => h("li", {},
    h("span", { text: `v${revision.version} · ${revision.action} by ${revision.by} · ${dateTime(revision.at)}` }),
    revision.changed_fields?.length ? h("span", { class: "muted", text: ` (${revision.changed_fields.join(", ")})` }) : null,
    " ",
    h("button", { type: "button", onclick: () => showDiff(revision, current()), text: "Compare with the editor" }),
    " ",
    h("button", { type: "button", onclick: async () => {
      try {
        restored(await api.post(`/api/v1/kb/articles/${encodeURIComponent(article.id)}/revisions/${revision.id}/restore`));
      } catch (error) {
        window.alert(error.message);
      }
    }, text: `Restore v${revision.version}` }))));
}

function showDiff(revision, text) {
  const lines = diffLines(revision.snapshot?.body ?? "", text);
  const changed = lines.filter((line) => line.op !== "same").length;
  $("#diff-title").textContent = `v${revision.version} → the editor: ${changed} line${changed === 1 ? "" : "s"} changed`;
  $("#diff").replaceChildren(...lines.map((line) => h("li", { class: line.op },
    h("span", { class: "sr-only", text: line.op === "add" ? "added: " : line.op === "del" ? "removed: " : "" }),
    h("span", { "aria-hidden": "true", class: "mark", text: line.op === "add" ? "+" : line.op === "del" ? "−" : " " }),
    h("span", { text: line.text || " " }))));
  $("#diff-panel").hidden = false;
}

// ---- what would the bot answer? ----------------------------------------------------------------------

async function ask(api, question) {
  const out = $("#answer");
  out.replaceChildren(h("p", { class: "muted", text: "Asking…" }));
  let found;
  try {
    found = await api.get(`/api/v1/kb/search?${new URLSearchParams({ q: question, k: "3" })}`);
  } catch (error) {
    return out.replaceChildren(h("p", { class: "error", text: error.message }));
  }
  const verdict = found.abstain
    ? h("p", { class: "abstain", text: "The bot would not answer this from the knowledge base: it would offer an engineer." })
    : h("p", { class: "answers", text: `The bot would answer with “${found.results[0]?.title}”.` });
  out.replaceChildren(verdict, h("ol", { class: "hits" }, ...found.results.map((hit, index) => h("li", { class: !found.abstain && index === 0 ? "top" : "" },
    h("strong", { text: hit.title }), h("span", { class: "muted", text: ` · score ${hit.score}${hit.section ? ` · ${hit.section}` : ""}` }),
    h("p", { class: "snippet", text: hit.snippet || "" })))));
}

// ---- knowledge gaps ----------------------------------------------------------------------------------

function draftBody(questions) {
  return ["## What customers asked", "", ...questions.map((q) => `- ${q}`), "", "## Answer", "", "1. ", ""].join("\n");
}

// The service drafts from the questions (or from a resolved handoff); without that route, the editor does.
async function draftFrom(api, { questions, title, handoffId }, { draft, open }) {
  const path = handoffId ? "/api/v1/kb/drafts/from-handoff/{handoff_id}" : "/api/v1/kb/gaps/draft";
  if (!(await hasRoute("post", path))) return draft({ title, body: draftBody(questions) });
  try {
    const created = handoffId
      ? await api.post(`/api/v1/kb/drafts/from-handoff/${handoffId}`)
      : await api.post("/api/v1/kb/gaps/draft", { questions, title });
    await open(created.id);
  } catch (error) {
    window.alert(error.message);
  }
}

async function loadGaps(api, actions) {
  const draft = (gap) => draftFrom(api, gap, actions);
  const out = $("#gaps");
  let gaps;
  try {
    gaps = await api.get("/api/v1/kb/gaps");
  } catch (error) {
    return out.replaceChildren(h("p", { class: "error", text: error.message }));
  }
  const unanswered = gaps.unanswered || [];
  const handoffs = gaps.handoffs_without_help || [];
  out.replaceChildren(
    h("h3", { text: `Unanswered questions (${unanswered.length})` }),
    unanswered.length ? h("ul", { class: "gaps" }, ...unanswered.map((group) => h("li", {},
      h("strong", { text: group.example }),
      h("span", { class: "muted", text: ` · asked ${group.count}× · last ${dateTime(group.last_asked)}` }),
      group.questions?.length > 1 ? h("details", {}, h("summary", { text: "Similar questions" }),
        h("ul", {}, ...group.questions.map((q) => h("li", { text: q })))) : null,
      h("button", { type: "button", onclick: () => draft({ title: group.example, questions: group.questions?.length ? group.questions : [group.example] }), text: "Draft an article from this" }))))
      : h("p", { class: "none", text: "None: the bot had an answer every time." }),
    h("h3", { text: `Handoffs no article helped (${handoffs.length})` }),
    handoffs.length ? h("ul", { class: "gaps" }, ...handoffs.map((item) => h("li", {},
      h("strong", { text: item.number }), h("span", { text: ` ${item.summary || item.reason}` }),
      // From the (masked) summary: a draft with the customer's own lines is made by an agent in the console.
      h("button", { type: "button", onclick: () => draft({ title: item.summary || item.number, questions: [item.summary || item.reason] }), text: "Draft an article from this" }))))
      : h("p", { class: "none", text: "None." }));
}

// ---- a translation beside its original ---------------------------------------------------------------

const LANGUAGES = { en: "English", de: "German" };

function column(label, article, open, current) {
  return h("div", { class: article.stale ? "stale" : "", "data-language": article.language },
    h("p", { class: "label", text: `${label} · ${LANGUAGES[article.language] || article.language}` }),
    h("h4", { text: article.title }),
    h("p", { class: "muted", text: `${article.status} · saved ${dateTime(article.updated_at)}` }),
    current ? null : h("button", { type: "button", onclick: () => open(article.id), text: `Open “${article.title}”` }),
    h("div", { class: "markdown" }, render(article.body || "")));
}

/** Shows the open article beside its original (a translation) or its translations, and says when a
 * translation is older than its original. */
export async function showPair(api, article, { open }) {
  const panel = $("#pair");
  panel.hidden = true;
  if (!article || !(await hasRoute("get", "/api/v1/kb/articles/{article_id}/pair"))) return;
  let pair;
  try {
    pair = await api.get(`/api/v1/kb/articles/${encodeURIComponent(article.id)}/pair`);
  } catch {
    return;
  }
  if (pair.article.id !== article.id || (!pair.original && !pair.translations.length)) return;
  const here = { ...pair.article, stale: pair.stale };
  const columns = pair.original
    ? [column("Original", pair.original, open, false), column("This translation", here, open, true)]
    : [column("This original", here, open, true), ...pair.translations.map((t) => column("Translation", t, open, false))];
  const stale = pair.original ? (pair.stale ? [here] : []) : pair.translations.filter((t) => t.stale);
  $("#pair-title").textContent = pair.original ? "Translation of an original" : "Translations";
  const warning = $("#pair-stale");
  warning.hidden = !stale.length;
  warning.textContent = stale.map((t) => `The ${LANGUAGES[t.language] || t.language} translation “${t.title}” is older than its original: `
    + `the original was changed after it (${dateTime(pair.original ? pair.original.updated_at : pair.article.updated_at)}).`).join(" ");
  $("#pair-columns").replaceChildren(...columns);
  panel.hidden = false;
}

export async function setUpTools(api, actions) {
  $("#ask").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("#question").value.trim();
    if (question) ask(api, question);
  });
  if (await hasRoute("get", "/api/v1/kb/gaps")) {
    $("#refresh-gaps").addEventListener("click", () => loadGaps(api, actions));
    await loadGaps(api, actions);
  } else {
    $("#refresh-gaps").hidden = true;
    $("#gaps").replaceChildren(h("p", { class: "none", text: "This service does not report knowledge gaps yet." }));
  }
}
