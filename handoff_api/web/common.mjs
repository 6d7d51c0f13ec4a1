// Shared by the agent console and the knowledge editor: DOM building (text only, never HTML strings),
// the API client with the bearer token kept in sessionStorage, and server-sent events over fetch().

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : describe(detail) || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

function describe(detail) {
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  return detail ? JSON.stringify(detail) : "";
}

export class Api {
  constructor(storageKey) {
    this.storageKey = storageKey;
  }

  get token() {
    return sessionStorage.getItem(this.storageKey) || "";
  }

  set token(value) {
    if (value) sessionStorage.setItem(this.storageKey, value);
    else sessionStorage.removeItem(this.storageKey);
  }

  async request(method, path, body, extraHeaders = {}) {
    const headers = { Authorization: `Bearer ${this.token}`, ...extraHeaders };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data?.detail ?? response.statusText);
    return data;
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body ?? {}); }

  /**
   * A POST that must not happen twice: it carries an Idempotency-Key, and when the network drops the
   * request or its answer it is sent once more with the same key, so the service writes it once.
   */
  async postOnce(path, body) {
    const key = globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    const headers = { "Idempotency-Key": key };
    try {
      return await this.request("POST", path, body ?? {}, headers);
    } catch (error) {
      if (error instanceof ApiError) throw error; // the service answered: nothing to retry
      return this.request("POST", path, body ?? {}, headers);
    }
  }
  put(path, body) { return this.request("PUT", path, body); }
  delete(path) { return this.request("DELETE", path); }
}

// Which routes the running service has: buttons for features that are not deployed stay hidden.
let openapi = null;
export async function hasRoute(method, path) {
  if (openapi === null) {
    openapi = await fetch("/openapi.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  }
  return Boolean(openapi.paths?.[path]?.[method.toLowerCase()]);
}

/**
 * Server-sent events with the token in the Authorization header (EventSource cannot send one),
 * reconnecting with Last-Event-ID so nothing is missed. Calls onEvent({id, event, data}) and
 * onState("live" | "reconnecting" | "closed"). Returns a function that stops it.
 */
export function streamEvents(url, token, onEvent, onState) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let retry = 0;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" };
        if (lastId !== null) headers["Last-Event-ID"] = lastId;
        const response = await fetch(url, { headers, signal: controller.signal, cache: "no-store" });
        if (response.status === 401 || response.status === 403) {
          onState("closed", response.status);
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onState("live");
        retry = 0;
        await readStream(response.body, (message) => {
          if (message.id !== undefined) lastId = message.id;
          if (message.data !== undefined) onEvent(message);
        });
      } catch (error) {
        if (stopped) return;
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, Math.min(10000, 500 * 2 ** retry++)));
    }
  }

  run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

async function readStream(body, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let message = {};
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (message.data !== undefined || message.id !== undefined) dispatch(message);
        message = {};
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") message.data = message.data === undefined ? value : `${message.data}\n${value}`;
      else if (field === "event") message.event = value;
      else if (field === "id") message.id = value;
    }
  }
}

export function parseTime(value) {
  if (!value) return null;
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? null : time;
}

export function clock(value) {
  const time = parseTime(value);
  return time ? time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

export function dateTime(value) {
  const time = parseTime(value);
  return time ? time.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

/** "12m 05s left" or "overdue 3m", and whether it is overdue or close. */
export function countdown(due, now = Date.now()) {
  const time = parseTime(due);
  if (!time) return { text: "no SLA", state: "none" };
  const seconds = Math.round((time.getTime() - now) / 1000);
  const span = Math.abs(seconds);
  const hours = Math.floor(span / 3600);
  const minutes = Math.floor((span % 3600) / 60);
  const secs = String(span % 60).padStart(2, "0");
  const text = hours ? `${hours}h ${String(minutes).padStart(2, "0")}m` : `${minutes}m ${secs}s`;
  if (seconds < 0) return { text: `overdue ${text}`, state: "overdue" };
  return { text: `${text} left`, state: seconds < 300 ? "soon" : "ok" };
}

/** A sign-in form for a token; resolves once `check(token)` accepts one. */
export function signIn(api, form, check) {
  const input = form.querySelector("input");
  const error = form.querySelector(".error");
  return new Promise((resolve) => {
    async function attempt(token) {
      api.token = token;
      try {
        resolve(await check());
        form.hidden = true;
      } catch (failure) {
        api.token = "";
        form.hidden = false;
        error.textContent = failure.status === 401 ? "That token was not accepted." : failure.message;
        input.focus();
      }
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = input.value.trim();
      input.value = "";
      if (token) attempt(token);
    });
    if (api.token) attempt(api.token);
    else {
      form.hidden = false;
      input.focus();
    }
  });
}

/** A key handler that ignores keys typed into fields (except Escape) and modifier chords. */
export function shortcuts(map) {
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
    if (event.key === "Escape" && typing) {
      event.target.blur();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const action = map[event.key];
    if (action && !document.querySelector("dialog[open]:not(#help)")) {
      event.preventDefault();
      action(event);
    }
  });
}
