// The knowledge editor: list and search articles, edit Markdown with a live preview, save drafts and
// publish (optimistic concurrency: a stale version gets 409 and the editor's text is kept).
import { $, Api, dateTime, h, signIn } from "./common.mjs";
import { render } from "./markdown.mjs";
import { setUpTools, showPair, showRevisions } from "./editor-tools.mjs";

const api = new Api("helpdesk-editor:token");
const state = { articles: [], current: null, dirty: false };
const form = $("#article-form");

function note(message, ok = false) {
  const node = h("p", { class: `toast${ok ? " ok" : ""}`, role: ok ? "status" : "alert", text: message });
  document.body.append(node);
  setTimeout(() => node.remove(), 5000);
}

// ---- the list ----------------------------------------------------------------------------------------

async function loadList() {
  const params = new URLSearchParams();
  const q = $("#article-search").value.trim();
  if (q) params.set("q", q);
  if ($("#status-filter").value) params.set("status", $("#status-filter").value);
  try {
    state.articles = await api.get(`/api/v1/kb/articles${params.size ? `?${params}` : ""}`);
  } catch (error) {
    note(error.message);
    return;
  }
  $("#article-count").textContent = `${state.articles.length} article${state.articles.length === 1 ? "" : "s"}`;
  $("#article-list").replaceChildren(...state.articles.map((article) => h("li", {},
    h("button", {
      type: "button", class: `item${state.current?.id === article.id ? " selected" : ""}`,
      "aria-current": state.current?.id === article.id ? "true" : false, onclick: () => open(article.id),
    },
    h("span", { class: "title", text: article.title }),
    h("span", { class: "meta" }, h("span", { class: `pill ${article.status}`, text: article.status }),
      ` ${article.category || "uncategorised"} · ${dateTime(article.updated_at)}`)))));
  const categories = [...new Set(state.articles.map((a) => a.category).filter(Boolean))].sort();
  $("#categories").replaceChildren(...categories.map((value) => h("option", { value })));
}

let searchTimer = 0;
$("#article-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(loadList, 200);
});
$("#status-filter").addEventListener("change", loadList);
$("#filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadList();
});

// ---- one article -------------------------------------------------------------------------------------

export async function open(id) {
  if (state.dirty && !window.confirm("Discard your unsaved changes?")) return;
  try {
    fill(await api.get(`/api/v1/kb/articles/${encodeURIComponent(id)}`));
  } catch (error) {
    note(error.message);
  }
  await loadList();
}

export function startNew(fields = {}) {
  if (state.dirty && !window.confirm("Discard your unsaved changes?")) return;
  fill(null, fields);
  loadList();
  $("#title").focus();
}

function fill(article, draft = {}) {
  state.current = article;
  const source = article || { title: "", category: "", tags: [], summary: "", body: "", ...draft };
  form.title.value = source.title || "";
  form.category.value = source.category || "";
  form.tags.value = (source.tags || []).join(", ");
  form.summary.value = source.summary || "";
  form.body.value = source.body || "";
  state.dirty = Boolean(!article && (draft.title || draft.body));
  $("#conflict").hidden = true;
  $("#edit-title").textContent = article ? article.title : "New article";
  $("#article-meta").replaceChildren(...(article
    ? [h("span", { class: `pill ${article.status}`, text: article.status }),
      ` ${article.id} · version ${article.version} · ${dateTime(article.updated_at)}${article.updated_by ? ` by ${article.updated_by}` : ""}`]
    : ["Not saved yet"]));
  renderButtons();
  preview();
  showRevisions(api, article, { current: () => form.body.value, restored: fill });
  showPair(api, article, { open });
}

function renderButtons() {
  const article = state.current;
  const buttons = [];
  if (!article || article.status === "draft") {
    buttons.push(h("button", { type: "button", "aria-keyshortcuts": "Control+S", onclick: () => save("draft"), text: "Save draft" }));
    buttons.push(h("button", { type: "button", class: "primary", onclick: () => save("published"), text: "Publish" }));
  } else {
    buttons.push(h("button", { type: "button", class: "primary", "aria-keyshortcuts": "Control+S", onclick: () => save("published"), text: "Save and publish" }));
    buttons.push(h("button", { type: "button", onclick: () => save("draft"), text: "Unpublish" }));
  }
  if (article) buttons.push(h("button", { type: "button", class: "danger", onclick: remove, text: "Delete" }));
  $("#save-buttons").replaceChildren(...buttons);
}

function fields() {
  return {
    title: form.title.value.trim(),
    body: form.body.value,
    category: form.category.value.trim(),
    tags: form.tags.value.split(",").map((tag) => tag.trim()).filter(Boolean),
    summary: form.summary.value.trim() || null,
  };
}

async function save(status) {
  const body = { ...fields(), status };
  if (!body.title) {
    note("An article needs a title.");
    form.title.focus();
    return;
  }
  try {
    const saved = state.current
      ? await api.put(`/api/v1/kb/articles/${encodeURIComponent(state.current.id)}`, { ...body, version: state.current.version })
      : await api.post("/api/v1/kb/articles", body);
    state.dirty = false;
    fill(saved);
    note(status === "published" ? "Published: the bot answers with it now." : "Draft saved.", true);
  } catch (error) {
    if (error.status === 409) conflict(error.message);
    else note(error.message);
  }
  await loadList();
}

// Someone saved first. Their version is one click away; the text being written here stays until then.
function conflict(message) {
  const box = $("#conflict");
  box.replaceChildren(`Someone else changed this article while you were editing (${message}). Your text is still here. `,
    h("button", { type: "button", onclick: async () => {
      const theirs = await api.get(`/api/v1/kb/articles/${encodeURIComponent(state.current.id)}`);
      state.current = { ...state.current, version: theirs.version, status: theirs.status };
      box.hidden = true;
      note(`Now editing on top of version ${theirs.version}: save again to overwrite it.`, true);
      renderButtons();
    }, text: "Keep mine (save over theirs)" }),
    " ",
    h("button", { type: "button", onclick: async () => {
      state.dirty = false;
      await open(state.current.id);
    }, text: "Load theirs" }));
  box.hidden = false;
}

async function remove() {
  const dialog = $("#confirm");
  dialog.returnValue = "";
  dialog.showModal();
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "ok" || !state.current) return;
    try {
      await api.delete(`/api/v1/kb/articles/${encodeURIComponent(state.current.id)}?version=${state.current.version}`);
      state.dirty = false;
      fill(null);
      note("Deleted.", true);
    } catch (error) {
      note(error.message);
    }
    await loadList();
  }, { once: true });
}

let previewTimer = 0;
function preview() {
  $("#preview").replaceChildren(render(form.body.value));
}
form.addEventListener("input", () => {
  state.dirty = true;
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 120);
});
form.addEventListener("submit", (event) => event.preventDefault());
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === "s" && !$("#app").hidden) {
    event.preventDefault();
    save(state.current?.status || "draft");
  }
});
window.addEventListener("beforeunload", (event) => {
  if (state.dirty) event.preventDefault();
});
$("#new-article").addEventListener("click", () => startNew());

// ---- start -------------------------------------------------------------------------------------------

async function start() {
  await signIn(api, $("#sign-in"), () => api.get("/api/v1/kb/articles?q=__sign_in_check__"));
  $("#app").hidden = false;
  $("#sign-out").hidden = false;
  $("#sign-out").addEventListener("click", () => {
    api.token = "";
    location.reload();
  });
  fill(null);
  await loadList();
  await setUpTools(api, { draft: startNew, open });
}

start();
