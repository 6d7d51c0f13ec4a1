// The conversation kept in localStorage, so a reload (or a new tab) shows it and resumes the same
// Rasa session id.
const MAX_MESSAGES = 200;
// A conversation nobody touched for this long starts afresh: at a shared computer the next person must
// not read (or continue) the last one's chat. One waiting for an engineer, or held by one, keeps longer.
export const IDLE_MS = 12 * 60 * 60 * 1000;
export const WAITING_IDLE_MS = 7 * 24 * 60 * 60 * 1000;

function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fresh() {
  return { sessionId: newId(), messages: [], open: false, engineer: null, waiting: null };
}

function expired(saved) {
  // Kept before this rule (no time): taken as fresh once, and timed from the next save on.
  if (typeof saved.savedAt !== "number") return false;
  const idle = Date.now() - saved.savedAt;
  return idle > (saved.waiting || saved.engineer ? WAITING_IDLE_MS : IDLE_MS);
}

export class ChatStore {
  constructor(key) {
    this.key = key;
    this.state = this.load();
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.key) || "null");
      if (saved && typeof saved.sessionId === "string" && Array.isArray(saved.messages) && !expired(saved)) return { ...fresh(), ...saved };
    } catch {
      // Storage blocked or corrupt: start a new conversation.
    }
    return fresh();
  }

  save() {
    try {
      this.state.savedAt = Date.now();
      localStorage.setItem(this.key, JSON.stringify(this.state));
    } catch {
      // Private mode or full: the chat still works, it just won't survive a reload.
    }
  }

  update(fields) {
    Object.assign(this.state, fields);
    this.save();
  }

  /** Adds a message and returns its index; `at` (ISO 8601) is now unless the message brings its own time. */
  push(message) {
    const messages = this.state.messages;
    messages.push({ ...message, at: message.at || new Date().toISOString() });
    if (messages.length > MAX_MESSAGES) messages.splice(0, messages.length - MAX_MESSAGES);
    this.save();
    return messages.length - 1;
  }

  /** The customer picked `title` among a message's buttons. */
  choose(index, title) {
    const message = this.state.messages[index];
    if (message) Object.assign(message, { closed: true, chosen: title });
    this.save();
  }

  /** The conversation moved on: no earlier message's buttons can be answered any more. */
  closeChoices() {
    let changed = false;
    for (const message of this.state.messages) {
      if (message.buttons?.length && !message.closed) {
        message.closed = true;
        changed = true;
      }
    }
    if (changed) this.save();
  }

  reset() {
    this.state = { ...fresh(), open: this.state.open };
    this.save();
  }
}
