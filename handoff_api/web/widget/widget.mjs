// The customer chat widget: Rasa's socket.io channel, rendered in a shadow root so host pages' CSS
// cannot break it. Everything a customer, bot or engineer wrote is set with textContent: never parsed as HTML.
import { SocketClient } from "./socket.mjs";
import { ChatStore } from "./store.mjs";

const QUEUE = /(?:ticket|Ticket)\s+(HD-\d+)[\s\S]*?number\s+(\d+)\s+in the queue/;
const RETURNED = /(handed you back to|you're back with) the virtual assistant/i;
const TYPING_TIMEOUT_MS = 15000;
const TIER_LABEL = { l2: "L2 engineer", l3: "L3 engineer", l4: "vendor engineer", lead: "team lead" };

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

// Text with web links made clickable; every piece is a text node or an <a> we build.
function linkified(text) {
  const out = document.createDocumentFragment();
  const pattern = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    out.append(text.slice(last, match.index));
    out.append(h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer", text: match[0] }));
    last = match.index + match[0].length;
  }
  out.append(text.slice(last));
  return out;
}

export function mount(config) {
  const store = new ChatStore(`helpdesk-widget:v1:${config.rasaUrl}`);
  const host = h("div", { id: "helpdesk-widget" });
  const root = host.attachShadow({ mode: "open" });
  root.append(h("link", { rel: "stylesheet", href: new URL("widget.css", import.meta.url).href }));

  const ui = {};
  ui.launcher = h("button", {
    class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "hd-panel",
    onclick: () => setOpen(true),
  }, h("span", { class: "icon", "aria-hidden": "true", text: "💬" }), h("span", { text: `Chat with ${config.title}` }));
  ui.unread = h("span", { class: "unread", hidden: true });
  ui.launcher.append(ui.unread);
  ui.title = h("h2", { id: "hd-title", text: config.title });
  ui.status = h("p", { class: "status", id: "hd-status", "aria-live": "polite" });
  ui.close = h("button", { class: "close", type: "button", "aria-label": "Minimise chat", text: "×", onclick: () => setOpen(false) });
  ui.banner = h("p", { class: "banner", role: "status", hidden: true });
  ui.log = h("ol", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  ui.empty = h("p", { class: "empty", text: "Ask a question to start. If the assistant can't solve it, an engineer joins this chat." });
  ui.typing = h("div", { class: "typing", hidden: true, "aria-live": "polite" },
    h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), h("span", { class: "sr-only", text: "The assistant is typing" }));
  ui.input = h("textarea", { id: "hd-input", rows: "1", maxlength: "2000", placeholder: "Type your message…", autocomplete: "off" });
  ui.send = h("button", { type: "submit", class: "send", text: "Send" });
  ui.form = h("form", { class: "composer" },
    h("label", { for: "hd-input", class: "sr-only", text: "Your message" }), ui.input, ui.send);
  ui.panel = h("section", { class: "panel", id: "hd-panel", role: "dialog", "aria-labelledby": "hd-title", "aria-describedby": "hd-status", hidden: true },
    h("header", {}, h("div", {}, ui.title, ui.status), ui.close), ui.banner, ui.empty, ui.log, ui.typing, ui.form);
  root.append(ui.launcher, ui.panel);
  document.body.append(host);

  let typingTimer = 0;
  const pending = [];
  const socket = new SocketClient(config.rasaUrl, { path: config.socketPath });
  let confirmed = false;

  let unread = 0;
  function setUnread(count) {
    unread = count;
    ui.unread.textContent = count ? `${count} new` : "";
    ui.unread.hidden = !count;
  }

  function setOpen(open) {
    if (open) setUnread(0);
    ui.panel.hidden = !open;
    ui.launcher.hidden = open;
    ui.launcher.setAttribute("aria-expanded", String(open));
    store.update({ open });
    if (open) {
      ui.input.focus();
      scrollDown();
    } else {
      ui.launcher.focus();
    }
  }

  function scrollDown() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function setTyping(on) {
    clearTimeout(typingTimer);
    ui.typing.hidden = !on;
    if (on) typingTimer = setTimeout(() => setTyping(false), TYPING_TIMEOUT_MS);
    scrollDown();
  }

  function showStatus() {
    const state = store.state;
    if (!socket.connected && state.messages.length) ui.status.textContent = "Reconnecting…";
    else if (state.engineer) ui.status.textContent = `With ${state.engineer.name} (${TIER_LABEL[state.engineer.tier] || "engineer"})`;
    else if (state.waiting) ui.status.textContent = "Waiting for an engineer";
    else ui.status.textContent = "Virtual assistant";
    const place = Number.isFinite(state.waiting?.position) ? ` You are number ${state.waiting.position} in the queue.` : "";
    const banner = state.waiting && !state.engineer
      ? `Ticket ${state.waiting.ticket}: an engineer will join you.${place}`
      : "";
    ui.banner.textContent = banner;
    ui.banner.hidden = !banner;
  }

  function render(message, index) {
    const who = message.role === "agent"
      ? `${message.agent?.name || "Engineer"} · ${TIER_LABEL[message.agent?.tier] || "engineer"}`
      : message.role === "customer" ? "You" : "Assistant";
    const item = h("li", { class: `msg ${message.role}` },
      h("span", { class: message.role === "agent" ? "who" : "who sr-only", text: who }),
      h("p", { class: "text" }, linkified(message.text || "")));
    if (message.image) item.append(h("img", { src: message.image, alt: "Image from the help desk", loading: "lazy" }));
    if (message.buttons?.length) {
      const group = h("div", { class: "choices", role: "group", "aria-label": "Suggested replies" });
      for (const button of message.buttons) {
        group.append(h("button", {
          type: "button", class: "choice", text: button.title, disabled: message.answered || undefined,
          onclick: () => choose(index, button),
        }));
      }
      item.append(group);
    }
    ui.empty.hidden = true;
    return item;
  }

  function renderAll() {
    ui.log.replaceChildren(...store.state.messages.map(render));
    ui.empty.hidden = store.state.messages.length > 0;
    showStatus();
    scrollDown();
  }

  function add(message) {
    const index = store.push(message);
    if (index !== ui.log.children.length) return renderAll(); // old messages were dropped: indexes moved
    ui.log.append(render(store.state.messages[index], index));
    scrollDown();
  }

  function transmit(text) {
    if (confirmed && socket.emit("user_uttered", { message: text, session_id: store.state.sessionId })) return;
    pending.push(text);
  }

  function say(text, shown = text) {
    add({ role: "customer", text: shown });
    if (!store.state.engineer && !store.state.waiting) setTyping(true);
    transmit(text);
  }

  function choose(index, button) {
    store.answer(index);
    for (const node of ui.log.children[index]?.querySelectorAll("button.choice") || []) node.disabled = true;
    say(button.payload || button.title, button.title);
  }

  function received(data) {
    if (!data || typeof data !== "object") return;
    setTyping(false);
    const text = typeof data.text === "string" ? data.text : "";
    const buttons = (data.quick_replies || data.buttons || [])
      .filter((b) => b && typeof b.title === "string")
      .map((b) => ({ title: b.title, payload: typeof b.payload === "string" ? b.payload : b.title }));
    const src = data.attachment?.type === "image" ? String(data.attachment.payload?.src || "") : "";
    const image = /^https?:\/\//.test(src) ? src : undefined;
    // What the help desk sent (an engineer's reply, its notice that the ticket waits again) carries its id.
    const replyId = Number.isSafeInteger(data.helpdesk_message_id) ? data.helpdesk_message_id : undefined;
    if (shown(replyId, text)) return;
    if (replyId !== undefined && replyId > (store.state.lastReplyId || 0)) store.update({ lastReplyId: replyId });
    if (data.agent && typeof data.agent === "object") {
      const agent = { name: String(data.agent.name || "Engineer"), tier: String(data.agent.tier || "") };
      store.update({ engineer: agent, waiting: null });
      add({ role: "agent", text, agent, replyId });
    } else if (text || buttons.length || image) {
      const match = QUEUE.exec(text);
      const queued = data.handoff || (match && { ticket: match[1], queue_position: Number(match[2]) });
      // Queued (again): nobody holds the ticket now, whoever did before (an escalation, a release).
      if (queued) {
        const position = queued.queue_position == null ? undefined : Number(queued.queue_position);
        store.update({ engineer: null, waiting: { ticket: String(queued.ticket), position } });
      }
      if (RETURNED.test(text)) store.update({ engineer: null, waiting: null });
      add({ role: "bot", text, buttons, image, replyId });
    }
    if (ui.panel.hidden) setUnread(unread + 1);
    showStatus();
  }

  // A line of the help desk already on screen: the same id, or the same text on an engineer's line kept
  // before replies carried ids. One without an id is always new (an engineer may well write "ok" twice).
  function shown(replyId, text) {
    if (replyId === undefined) return false;
    return store.state.messages.some((m) => m.replyId === replyId
      || m.role === "agent" && m.replyId === undefined && m.text === text);
  }

  // Rasa pushes an engineer's reply only to a connected widget: after a reload, a closed tab or a network
  // drop, the service gives the replies after the last one here, and whether an engineer still has the chat.
  let catchingUp = false;
  async function catchUp() {
    if (!config.serviceUrl || catchingUp) return;
    catchingUp = true;
    try {
      let after = store.state.lastReplyId || 0;
      let answer;
      // At most 50 replies come at once: a chat closed through a long conversation asks until it has all.
      for (let page = 0; page < 100; page++) {
        const url = new URL("api/v1/widget/replies", config.serviceUrl);
        url.searchParams.set("conversation_id", store.state.sessionId);
        url.searchParams.set("after", String(after));
        const response = await fetch(url, { cache: "no-store" });
        if (!response.ok) return;
        answer = await response.json();
        const replies = Array.isArray(answer.replies) ? answer.replies : [];
        for (const reply of replies) {
          received({ text: String(reply.text), agent: reply.agent, handoff: reply.handoff, helpdesk_message_id: reply.id });
          after = Math.max(after, Number(reply.id) || 0);
        }
        if (!answer.more || !replies.length) break;
      }
      if (answer.open === false && (store.state.engineer || store.state.waiting)) {
        // The hand-back happened while this chat was away: say so, as the bot did to a connected chat.
        const back = answer.handed_back;
        if (back && typeof back.text === "string") received({ text: back.text });
        // The rating question the bot asked then, unless the customer has rated since (elsewhere).
        if (back && back.rating && typeof back.rating === "object") received(back.rating);
        store.update({ engineer: null, waiting: null });
        showStatus();
      }
    } catch {
      // The service is out of reach: live messages still arrive, and the next connection asks again.
    } finally {
      catchingUp = false;
    }
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.input.value.trim();
    if (!text) return;
    ui.input.value = "";
    say(text);
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setOpen(false);
  });

  socket.on("connect", () => {
    confirmed = false;
    socket.emit("session_request", { session_id: store.state.sessionId });
    showStatus();
  });
  socket.on("session_confirm", () => {
    confirmed = true;
    while (pending.length) transmit(pending.shift());
    showStatus();
    catchUp();
  });
  socket.on("disconnect", () => {
    confirmed = false;
    showStatus();
  });
  socket.on("bot_uttered", received);
  socket.connect();

  renderAll();
  if (store.state.open || config.startOpen) setOpen(true);
  window.helpdeskWidget = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    get sessionId() { return store.state.sessionId; },
    reset() {
      store.reset();
      socket.emit("session_request", { session_id: store.state.sessionId });
      renderAll();
    },
  };
}
