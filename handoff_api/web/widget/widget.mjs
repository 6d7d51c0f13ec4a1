// The customer chat widget: Rasa's socket.io channel, rendered in a shadow root so host pages' CSS
// cannot break it. Everything a customer, bot or engineer wrote is set with textContent: never parsed as HTML.
import { SocketClient } from "./socket.mjs";
import { ChatStore } from "./store.mjs";
import { LANGUAGES, t } from "./texts.mjs";

// The bot's words for a ticket in the queue and for the customer back with it, in English and German.
const QUEUE = /(?:ticket|Ticket)\s+(HD-\d+)[\s\S]*?(?:number\s+(\d+)\s+in the queue|Position\s+(\d+)\s+in der Warteschlange)/;
const RETURNED = /(handed you back to|you're back with) the virtual assistant|wieder beim virtuellen Assistenten/i;
const TYPING_TIMEOUT_MS = 15000;
const TIER_KEY = { l2: "tierL2", l3: "tierL3", l4: "tierL4", lead: "tierLead" };
const WEB_LINK = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;
// The bot ends a knowledge-base answer with the article's address on a line of its own, "More: URL" or in
// German "Mehr dazu: URL" (bot/actions/knowledge/format.py); the answer's first line is the title.
const MORE_LINE = /^(More|Mehr dazu):\s*(https?:\/\/\S+?)\s*$/;
// The link reads in the language of the answer it ends.
const ANSWER_LANGUAGE = { More: "en", "Mehr dazu": "de" };
// Within a few pixels of the end counts as reading the newest message.
const PINNED_SLACK_PX = 24;

// A new conversation opens with the widget's own greeting: the most common requests one click away,
// without waiting for the bot. The payloads are the bot's intents (bot/domain.yml), the same in every language.
const GREETING = {
  en: {
    text: "Hello! I'm the virtual assistant. Choose a topic or type your question. "
      + "If I can't solve it, an engineer joins this chat.",
    titles: ["Reset my password", "Unlock my account", "Set up a device or app", "Something isn't working", "Talk to a person"],
  },
  de: {
    text: "Hallo! Ich bin der virtuelle Assistent. Wählen Sie ein Thema oder schreiben Sie Ihre Frage. "
      + "Wenn ich nicht weiterhelfen kann, kommt ein Techniker in diesen Chat.",
    titles: ["Passwort zurücksetzen", "Konto entsperren", "Gerät oder App einrichten", "Etwas funktioniert nicht", "Mit einer Person sprechen"],
  },
};
const QUICK_START_INTENTS = ["/password_reset", "/account_locked", "/device_setup", "/report_issue", "/request_human"];

// The time a message was written in the customer's own clock and language: HH:MM on screen, the whole
// date and time on hover and for assistive technology.
const CLOCK = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const FULL_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

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

// A speech bubble drawn inline: an emoji needs an emoji font, which many office PCs lack.
function bubbleIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [key, value] of Object.entries({
    class: "icon", viewBox: "0 0 24 24", width: "22", height: "22", "aria-hidden": "true", focusable: "false",
  })) svg.setAttribute(key, value);
  const bubble = document.createElementNS(ns, "path");
  bubble.setAttribute("fill", "currentColor");
  bubble.setAttribute("d", "M5 3h14a3 3 0 0 1 3 3v9a3 3 0 0 1-3 3h-8l-5 4v-4H5a3 3 0 0 1-3-3V6a3 3 0 0 1 3-3z");
  svg.append(bubble);
  for (const x of [8, 12, 16]) {
    const dot = document.createElementNS(ns, "circle");
    for (const [key, value] of Object.entries({ cx: x, cy: "10.5", r: "1.5", fill: "#1d4ed8" })) dot.setAttribute(key, value);
    svg.append(dot);
  }
  return svg;
}

/** An ISO 8601 time as given, or undefined when it is no time at all. */
function validTime(value) {
  if (typeof value !== "string" || !value) return undefined;
  return Number.isNaN(Date.parse(value)) ? undefined : value;
}

function stamp(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return null;
  return h("time", { class: "at", datetime: when.toISOString(), title: FULL_TIME.format(when), text: CLOCK.format(when) });
}

function isArticleAddress(url) {
  try {
    return /\/kb\/[^/]+\/?$/.test(new URL(url).pathname);
  } catch {
    return false;
  }
}

// The bot's link to a knowledge-base article, in words: a raw address tells a customer nothing. The
// referrer is kept (no "noreferrer") so that the article's Back link can return to this page.
function articleLink(url, language) {
  return h("a", { class: "article", href: url, target: "_blank", rel: "noopener" },
    t(language, "openArticle"), h("span", { class: "sr-only", text: t(language, "opensInNewTab") }));
}

// Text with web links made clickable; every piece is a text node or an <a> we build. In the bot's
// messages, links to knowledge-base articles read "Open the article".
function linkified(text, { articles = false, language = "en" } = {}) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(WEB_LINK)) {
    out.append(text.slice(last, match.index));
    out.append(articles && isArticleAddress(match[0])
      ? articleLink(match[0], language)
      : h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer", text: match[0] }));
    last = match.index + match[0].length;
  }
  out.append(text.slice(last));
  return out;
}

// A bot message line by line: a knowledge-base answer (a title, more lines, then the "More:" line) shows
// its title in bold and its "More:" line as a link; other messages as they are written.
function botText(text, language) {
  const out = document.createDocumentFragment();
  const lines = text.split(/\r?\n/);
  const answer = lines.length >= 3 && lines[0].trim() !== "" && MORE_LINE.test(lines[lines.length - 1]);
  lines.forEach((line, index) => {
    if (index) out.append("\n");
    const more = MORE_LINE.exec(line);
    if (index === 0 && answer) out.append(h("strong", { class: "title", text: line }));
    else if (more) out.append(articleLink(more[2], ANSWER_LANGUAGE[more[1]]));
    else out.append(linkified(line, { articles: true, language }));
  });
  return out;
}

export function mount(config) {
  const store = new ChatStore(`helpdesk-widget:v1:${config.rasaUrl}`);
  const host = h("div", { id: "helpdesk-widget" });
  const root = host.attachShadow({ mode: "open" });
  root.append(h("link", { rel: "stylesheet", href: new URL("widget.css", import.meta.url).href }));

  // The widget's language: the customer's choice with the switch, else the page's or the browser's.
  const lang = () => (LANGUAGES.includes(store.state.language) ? store.state.language : config.language);
  const say_ = (key, values) => t(lang(), key, values);
  const tierLabel = (tier) => say_(TIER_KEY[tier] || "tierOther");

  const ui = {};
  ui.launcherText = h("span");
  ui.launcher = h("button", {
    class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "hd-panel",
    onclick: () => setOpen(true),
  }, bubbleIcon(), ui.launcherText);
  ui.unread = h("span", { class: "unread", hidden: true });
  ui.launcher.append(ui.unread);
  ui.title = h("h2", { id: "hd-title", text: config.title });
  ui.status = h("p", { class: "status", id: "hd-status", "aria-live": "polite" });
  ui.close = h("button", { class: "close", type: "button", text: "×", onclick: () => setOpen(false) });
  ui.switch = h("button", { class: "switch", type: "button", onclick: () => switchLanguage() });
  ui.banner = h("p", { class: "banner", role: "status", hidden: true });
  ui.log = h("ol", { class: "log", role: "log", "aria-live": "polite", tabindex: "0" });
  ui.empty = h("p", { class: "empty" });
  ui.typingText = h("span", { class: "sr-only" });
  ui.typing = h("div", { class: "typing", hidden: true, "aria-live": "polite" },
    h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), ui.typingText);
  ui.input = h("textarea", { id: "hd-input", rows: "1", maxlength: "2000", autocomplete: "off" });
  ui.send = h("button", { type: "submit", class: "send" });
  ui.inputLabel = h("label", { for: "hd-input", class: "sr-only" });
  ui.form = h("form", { class: "composer" }, ui.inputLabel, ui.input, ui.send);
  ui.panel = h("section", { class: "panel", id: "hd-panel", role: "dialog", "aria-labelledby": "hd-title", "aria-describedby": "hd-status", hidden: true },
    h("header", {}, h("div", {}, ui.title, ui.status), ui.switch, ui.close), ui.banner, ui.empty, ui.log, ui.typing, ui.form);
  root.append(ui.launcher, ui.panel);
  document.body.append(host);

  // Every text of the widget's own, from the catalogue in the current language.
  function applyLanguage() {
    ui.panel.setAttribute("lang", lang());
    ui.launcher.setAttribute("lang", lang());
    ui.launcherText.textContent = say_("launcher", { title: config.title });
    ui.close.setAttribute("aria-label", say_("minimise"));
    ui.switch.textContent = say_("switchTo");
    ui.switch.setAttribute("aria-label", say_("switchLabel"));
    ui.switch.setAttribute("lang", lang() === "de" ? "en" : "de");
    ui.log.setAttribute("aria-label", say_("conversation"));
    ui.empty.textContent = say_("empty");
    ui.typingText.textContent = say_("typing");
    ui.input.setAttribute("placeholder", say_("placeholder"));
    ui.send.textContent = say_("send");
    ui.inputLabel.textContent = say_("yourMessage");
    setUnread(unread);
  }

  // The switch changes the widget's words at once and tells the bot with the customer's next message
  // (`language_chosen`), so the bot answers in it from then on. A conversation that holds only the
  // greeting is greeted again in the new language.
  function switchLanguage() {
    const next = lang() === "de" ? "en" : "de";
    const onlyGreeting = store.state.messages.length > 0 && store.state.messages.every((m) => m.greeting);
    store.update({ language: next, languageChosen: true, ...(onlyGreeting ? { messages: [] } : {}) });
    applyLanguage();
    renderAll();
    if (onlyGreeting) greet();
    ui.input.focus();
  }

  let typingTimer = 0;
  const pending = [];
  const socket = new SocketClient(config.rasaUrl, { path: config.socketPath });
  let confirmed = false;

  let unread = 0;
  function setUnread(count) {
    unread = count;
    ui.unread.textContent = count ? say_("unread", { count }) : "";
    ui.unread.hidden = !count;
    ui.launcher.setAttribute("aria-label", count
      ? say_("launcherUnread", { title: config.title, count })
      : say_("launcher", { title: config.title }));
  }

  function setOpen(open) {
    if (open) setUnread(0);
    ui.panel.hidden = !open;
    ui.launcher.hidden = open;
    ui.launcher.setAttribute("aria-expanded", String(open));
    store.update({ open });
    if (open) {
      greet();
      ui.input.focus();
      scrollDown();
    } else {
      ui.launcher.focus();
    }
  }

  // Only a conversation with nothing in it yet is greeted: one resumed from the store already has its story.
  function greet() {
    if (store.state.messages.length) return;
    const words = GREETING[lang()] || GREETING.en;
    const buttons = words.titles.map((title, i) => ({ title, payload: QUICK_START_INTENTS[i] }));
    add({ role: "bot", text: words.text, buttons, greeting: true });
  }

  // The log follows the newest message while the customer is reading it. Whatever makes the log shorter
  // (the ticket banner, the typing dots) or its content taller (an image loading) keeps the newest
  // message in view instead of pushing it under the banner or the message box; a customer who scrolled
  // up to read stays where they are.
  let pinned = true;
  let height = 0; // the log's height when last measured by the resize observer
  function scrollDown() {
    ui.log.scrollTop = ui.log.scrollHeight;
    pinned = true;
  }
  ui.log.addEventListener("scroll", () => {
    // Scroll events are dispatched before the resize observer runs: one that comes after the log shrank
    // would measure the newest message as scrolled away, while it was only covered. The observer decides.
    if (ui.log.clientHeight !== height) return;
    pinned = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight <= PINNED_SLACK_PX;
  });
  new ResizeObserver(() => {
    height = ui.log.clientHeight;
    if (pinned) scrollDown();
  }).observe(ui.log);

  function setTyping(on) {
    clearTimeout(typingTimer);
    ui.typing.hidden = !on;
    if (on) typingTimer = setTimeout(() => setTyping(false), TYPING_TIMEOUT_MS);
    scrollDown();
  }

  function showStatus() {
    const state = store.state;
    if (!socket.connected && state.messages.some((m) => !m.greeting)) ui.status.textContent = say_("reconnecting");
    else if (state.engineer) ui.status.textContent = say_("withEngineer", { name: state.engineer.name, tier: tierLabel(state.engineer.tier) });
    else if (state.waiting) ui.status.textContent = say_("waiting");
    else ui.status.textContent = say_("assistant");
    const place = Number.isFinite(state.waiting?.position) ? say_("queuePlace", { position: state.waiting.position }) : "";
    const banner = state.waiting && !state.engineer
      ? say_("ticketBanner", { ticket: state.waiting.ticket, place })
      : "";
    ui.banner.textContent = banner;
    ui.banner.hidden = !banner;
  }

  function render(message, index) {
    const who = message.role === "agent"
      ? `${message.agent?.name || say_("engineer")} · ${tierLabel(message.agent?.tier)}`
      : message.role === "customer" ? say_("you") : say_("bot");
    const text = message.text || "";
    const item = h("li", { class: `msg ${message.role}` },
      h("span", { class: message.role === "agent" ? "who" : "who sr-only", text: who }),
      h("p", { class: "text" }, message.role === "bot" ? botText(text, lang()) : linkified(text, { language: lang() })));
    if (message.image) {
      item.append(h("img", {
        src: message.image, alt: say_("image"), loading: "lazy",
        onload: () => pinned && scrollDown(),
      }));
    }
    if (message.buttons?.length) {
      // Buttons of a message the conversation has moved past stay readable, for the story, but are off.
      const closed = Boolean(message.closed || message.answered);
      const group = h("div", {
        class: "choices", role: "group", "aria-label": say_(message.greeting ? "commonRequests" : "suggestedReplies"),
      });
      for (const button of message.buttons) {
        group.append(h("button", {
          type: "button", class: message.chosen === button.title ? "choice chosen" : "choice",
          text: button.title, disabled: closed,
          onclick: (event) => choose(index, button, event),
        }));
      }
      item.append(group);
    }
    const at = message.at && stamp(message.at);
    if (at) item.append(at);
    ui.empty.hidden = true;
    return item;
  }

  function renderAll() {
    ui.log.replaceChildren(...store.state.messages.map(render));
    ui.empty.hidden = store.state.messages.length > 0;
    showStatus();
    scrollDown();
  }

  // Whatever is said next (by the customer, the bot or an engineer) answers or passes over the questions
  // before it: their buttons go off, so an old rating or an abandoned guide's Yes/No cannot be sent later.
  function closeChoices() {
    store.closeChoices();
    let hadFocus = false;
    for (const node of ui.log.querySelectorAll("button.choice:not(:disabled)")) {
      if (root.activeElement === node) hadFocus = true;
      node.disabled = true;
    }
    if (hadFocus) ui.input.focus(); // a disabled button would drop the keyboard's place on the page
  }

  function add(message) {
    closeChoices();
    const index = store.push(message);
    if (index !== ui.log.children.length) return renderAll(); // old messages were dropped: indexes moved
    ui.log.append(render(store.state.messages[index], index));
    scrollDown();
  }

  function transmit(text) {
    // The page's language goes with every message: the bot answers in it until the customer's own words
    // show another (bot/actions/conversation/language.py).
    const metadata = { language: lang(), ...(store.state.languageChosen ? { language_chosen: true } : {}) };
    const message = { message: text, session_id: store.state.sessionId, metadata };
    if (confirmed && socket.emit("user_uttered", message)) return;
    pending.push(text);
  }

  function say(text, shown = text) {
    add({ role: "customer", text: shown });
    if (!store.state.engineer && !store.state.waiting) setTyping(true);
    transmit(text);
  }

  function choose(index, button, event) {
    const message = store.state.messages[index];
    if (!message || message.closed || message.answered) return;
    store.choose(index, button.title);
    const group = ui.log.children[index];
    for (const node of group?.querySelectorAll("button.choice") || []) {
      node.disabled = true;
      if (node === event?.currentTarget) node.classList.add("chosen");
    }
    say(button.payload || button.title, button.title);
    // Back to typing, where the keyboard left off. Not after a tap on a touch screen, where focusing the
    // message box would pop the on-screen keyboard over the answer the customer is waiting for.
    const keyboard = event?.detail === 0;
    if (keyboard || !matchMedia("(pointer: coarse)").matches) ui.input.focus();
  }

  function received(data, sentAt) {
    if (!data || typeof data !== "object") return;
    setTyping(false);
    const text = typeof data.text === "string" ? data.text : "";
    const buttons = (data.quick_replies || data.buttons || [])
      .filter((b) => b && typeof b.title === "string")
      .map((b) => ({ title: b.title, payload: typeof b.payload === "string" ? b.payload : b.title }));
    const src = data.attachment?.type === "image" ? String(data.attachment.payload?.src || "") : "";
    const image = /^https?:\/\//.test(src) ? src : undefined;
    // When the service says when it was written (a reply fetched after the fact); live lines are new now.
    const at = validTime(sentAt);
    // What the help desk sent (an engineer's reply, its notice that the ticket waits again) carries its id.
    const replyId = Number.isSafeInteger(data.helpdesk_message_id) ? data.helpdesk_message_id : undefined;
    if (shown(replyId, text)) return;
    if (replyId !== undefined && replyId > (store.state.lastReplyId || 0)) store.update({ lastReplyId: replyId });
    if (data.agent && typeof data.agent === "object") {
      const agent = { name: String(data.agent.name || "Engineer"), tier: String(data.agent.tier || "") };
      store.update({ engineer: agent, waiting: null });
      add({ role: "agent", text, agent, replyId, at });
    } else if (text || buttons.length || image) {
      const match = QUEUE.exec(text);
      const queued = data.handoff || (match && { ticket: match[1], queue_position: Number(match[2] || match[3]) });
      // Queued (again): nobody holds the ticket now, whoever did before (an escalation, a release).
      if (queued) {
        const position = queued.queue_position == null ? undefined : Number(queued.queue_position);
        store.update({ engineer: null, waiting: { ticket: String(queued.ticket), position } });
      }
      if (RETURNED.test(text)) store.update({ engineer: null, waiting: null });
      add({ role: "bot", text, buttons, image, replyId, at });
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
          received({ text: String(reply.text), agent: reply.agent, handoff: reply.handoff, helpdesk_message_id: reply.id }, reply.at);
          after = Math.max(after, Number(reply.id) || 0);
        }
        if (!answer.more || !replies.length) break;
      }
      if (answer.open === false && (store.state.engineer || store.state.waiting)) {
        // The hand-back happened while this chat was away: say so, as the bot did to a connected chat.
        const back = answer.handed_back;
        if (back && typeof back.text === "string") received({ text: back.text }, back.at);
        // The rating question the bot asked then, unless the customer has rated since (elsewhere).
        if (back && back.rating && typeof back.rating === "object") received(back.rating, back.at);
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
  socket.on("bot_uttered", (data) => received(data));
  socket.connect();

  applyLanguage();
  renderAll();
  if (store.state.open || config.startOpen) setOpen(true);
  window.helpdeskWidget = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    get sessionId() { return store.state.sessionId; },
    reset() {
      store.reset();
      socket.emit("session_request", { session_id: store.state.sessionId });
      applyLanguage();
      renderAll();
      if (!ui.panel.hidden) greet();
    },
  };
}
