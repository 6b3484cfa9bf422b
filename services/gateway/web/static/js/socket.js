// The push connection: one WebSocket at /api/v1/ws, reopened after every drop with exponential back-off and
// jitter (0.5 s doubling to 30 s, each wait drawn from its upper half), right away when the browser comes back
// online. Each open is an entry into the messenger: the server then sends messages.unread and friends.pending,
// and the app catches up on the open chat (onOpen).

const MIN_DELAY = 500;
const MAX_DELAY = 30_000;
const REVOKED = 1008; // the session was revoked: log in again, do not reconnect

export class PushSocket {
  /**
   * @param {{token: () => Promise<string>, refresh: () => Promise<void>, onFrame: (f: {type: string, data: any}) => void,
   *          onOpen: () => void, onStatus: (s: string) => void, onRevoked: () => void}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.ws = null;
    this.running = false;
    this.attempt = 0;
    this.failedOpens = 0;
    this.retryTimer = 0;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.dropForOffline();
  }

  start() {
    if (this.running) return;
    this.running = true;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.retryTimer);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    this.closeCurrent(1000, 'bye');
  }

  closeCurrent(code, reason) {
    const ws = this.ws;
    this.ws = null; // its close event is then ignored
    if (ws) {
      try {
        ws.close(code, reason);
      } catch {
        /* already closing */
      }
    }
  }

  async connect() {
    clearTimeout(this.retryTimer);
    if (!this.running || this.ws) return;
    if (!navigator.onLine) {
      this.hooks.onStatus('offline');
      return; // the online event reconnects
    }
    this.hooks.onStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let token;
    try {
      // A browser does not tell a page why a handshake failed: after two opens that failed in a row, the token
      // may be the reason, so get a new one.
      if (this.failedOpens >= 2) {
        this.failedOpens = 0;
        await this.hooks.refresh();
      }
      token = await this.hooks.token();
    } catch (e) {
      if (e && e.name === 'SessionEnded') return;
      this.schedule();
      return;
    }
    if (!this.running || this.ws) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // The token goes as a subprotocol (Sec-WebSocket-Protocol), not in the URL, which proxies and servers log;
    // the gateway answers with simplemessenger.v1.
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`, ['simplemessenger.v1', `bearer.${token}`]);
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      this.attempt = 0;
      this.failedOpens = 0;
      this.hooks.onStatus('online');
      this.hooks.onOpen();
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === 'string') this.hooks.onFrame(frame);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return; // closed on purpose
      this.ws = null;
      if (!this.running) return;
      if (ev.code === REVOKED) {
        this.running = false;
        this.hooks.onRevoked();
        return;
      }
      if (!opened) this.failedOpens++;
      this.schedule();
    });
  }

  schedule() {
    if (!this.running) return;
    const ceiling = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    this.attempt++;
    const wait = ceiling / 2 + Math.random() * (ceiling / 2);
    this.hooks.onStatus(navigator.onLine ? 'reconnecting' : 'offline');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  reconnectNow() {
    if (!this.running) return;
    this.attempt = 0;
    if (!this.ws) this.connect();
  }

  dropForOffline() {
    if (!this.running) return;
    // The connection cannot carry anything now; drop it so that coming back is a fresh entry with catch-up.
    clearTimeout(this.retryTimer);
    this.closeCurrent(4000, 'offline');
    this.hooks.onStatus('offline');
  }
}
