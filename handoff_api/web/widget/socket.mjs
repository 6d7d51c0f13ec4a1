// A small Socket.IO (protocol 5, Engine.IO 4) client over WebSocket: connect, emit, on, reconnect.
// Enough for Rasa's socketio channel; no npm package, nothing fetched at run time.

const OPEN = "0", CLOSE = "1", PING = "2", PONG = "3", MESSAGE = "4";
const SIO_CONNECT = "0", SIO_DISCONNECT = "1", SIO_EVENT = "2", SIO_CONNECT_ERROR = "4";

export class SocketClient {
  /** @param {string} url http(s) origin of the server; @param {{path?: string}} options */
  constructor(url, options = {}) {
    const base = new URL(url);
    base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    const path = (options.path || "/socket.io").replace(/\/$/, "");
    this.endpoint = `${base.origin}${path}/?EIO=4&transport=websocket`;
    this.handlers = new Map();
    this.connected = false;
    this.closedByUser = false;
    this.retry = 0;
    this.ws = null;
    this.watchdog = 0;
  }

  on(event, handler) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(handler);
    return this;
  }

  fire(event, ...args) {
    for (const handler of this.handlers.get(event) || []) {
      try { handler(...args); } catch (error) { console.error(error); }
    }
  }

  connect() {
    this.closedByUser = false;
    const ws = new WebSocket(this.endpoint);
    this.ws = ws;
    ws.onmessage = (message) => this.receive(String(message.data));
    ws.onclose = () => this.dropped(ws);
    ws.onerror = () => ws.close();
  }

  receive(packet) {
    const type = packet[0];
    if (type === OPEN) {
      const info = JSON.parse(packet.slice(1));
      this.pingWindow = (info.pingInterval || 25000) + (info.pingTimeout || 20000);
      this.arm();
      this.ws.send(MESSAGE + SIO_CONNECT);
    } else if (type === PING) {
      this.arm();
      this.ws.send(PONG);
    } else if (type === CLOSE) {
      this.ws.close();
    } else if (type === MESSAGE) {
      this.message(packet.slice(1));
    }
  }

  message(payload) {
    const type = payload[0];
    if (type === SIO_CONNECT) {
      this.connected = true;
      this.retry = 0;
      this.fire("connect");
    } else if (type === SIO_EVENT) {
      const start = payload.indexOf("[");
      if (start < 0) return;
      const [event, ...args] = JSON.parse(payload.slice(start));
      this.fire(event, ...args);
    } else if (type === SIO_DISCONNECT || type === SIO_CONNECT_ERROR) {
      this.ws.close();
    }
  }

  // No ping from the server within its own window: the link is dead even if the socket looks open.
  arm() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.ws && this.ws.close(), this.pingWindow);
  }

  dropped(ws) {
    if (ws !== this.ws) return;
    clearTimeout(this.watchdog);
    const was = this.connected;
    this.connected = false;
    this.ws = null;
    if (was) this.fire("disconnect");
    if (this.closedByUser) return;
    const delay = Math.min(10000, 500 * 2 ** this.retry++) * (0.75 + Math.random() / 2);
    setTimeout(() => this.closedByUser || this.connect(), delay);
  }

  emit(event, data) {
    if (!this.connected) return false;
    this.ws.send(MESSAGE + SIO_EVENT + JSON.stringify([event, data]));
    return true;
  }

  close() {
    this.closedByUser = true;
    clearTimeout(this.watchdog);
    if (this.ws) this.ws.close();
  }
}
