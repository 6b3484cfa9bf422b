// The REST client and the session's tokens.
//
// The access token lives only in this module's memory: no script-readable storage ever holds it, and a reload
// gets a new one. The refresh token is kept in sessionStorage so that a reload (or a crash of the page) keeps
// the user logged in within the tab; it is gone when the tab closes, and other tabs never see it, which also
// keeps two tabs from racing on one single-use refresh token (presenting a spent one revokes the session).
// The access token is refreshed shortly before it expires and once more when a call is refused with 401;
// only one refresh is ever in flight, every caller waits for that one.

const REFRESH_KEY = 'simplemessenger.refresh_token';
const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter;
  }
}

/** SessionEnded is thrown when the session is over (refresh refused): the user must log in again. */
export class SessionEnded extends Error {
  constructor(reason) {
    super(reason);
    this.name = 'SessionEnded';
  }
}

export class Api {
  /** @param {{onSessionEnded: (reason: string) => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.access = null;
    this.expiresAt = 0; // ms since epoch
    this.refreshing = null; // the refresh in flight, shared by every caller
    this.timer = 0;
  }

  hasStoredSession() {
    try {
      return !!sessionStorage.getItem(REFRESH_KEY);
    } catch {
      return false;
    }
  }

  /** A JSON call; auth calls carry the token, refresh it when needed and retry once after a 401. */
  async call(method, path, { json, body, contentType, auth = true } = {}) {
    let retried = false;
    for (;;) {
      const headers = { Accept: 'application/json' };
      if (json !== undefined) {
        headers['Content-Type'] = 'application/json';
        body = JSON.stringify(json);
      } else if (contentType) {
        headers['Content-Type'] = contentType;
      }
      if (auth) headers.Authorization = `Bearer ${await this.token()}`;
      const res = await fetch(BASE + path, { method, headers, body, cache: 'no-store' });
      if (res.status === 401 && auth && !retried) {
        retried = true;
        await this.refresh();
        continue;
      }
      return parse(res);
    }
  }

  /** The current access token, refreshed first when it is about to expire. */
  async token() {
    if (!this.access || this.expiresAt - Date.now() < 15_000) await this.refresh();
    return this.access;
  }

  /** One refresh at a time: concurrent callers share the one in flight. */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async doRefresh() {
    let stored = null;
    try {
      stored = sessionStorage.getItem(REFRESH_KEY);
    } catch {
      /* storage disabled: the session lasts as long as the access token */
    }
    if (!stored) throw this.end('no_session');
    const res = await fetch(`${BASE}/auth/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh_token: stored }),
      cache: 'no-store',
    });
    if (res.status === 401 || res.status === 400) throw this.end('expired');
    // Anything else (network, 429, 5xx) is transient: the refresh token is still good, keep it.
    this.adopt(await parse(res));
  }

  async login(nickname, password) {
    const tokens = await this.call('POST', '/auth/login', { json: { nickname, password }, auth: false });
    this.adopt(tokens);
    return tokens.user;
  }

  /** Takes a login/refresh answer: access token in memory, refresh token in sessionStorage, next refresh planned. */
  adopt(tokens) {
    this.access = tokens.access_token;
    const ttl = Math.max(1, Number(tokens.expires_in) || 60) * 1000;
    this.expiresAt = Date.now() + ttl;
    try {
      sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
    } catch {
      /* see doRefresh */
    }
    clearTimeout(this.timer);
    // A minute before expiry (a fifth of the lifetime for short ones), so calls rarely wait for a refresh.
    const lead = Math.min(60_000, ttl / 5);
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(1000, ttl - lead));
  }

  async logout() {
    try {
      if (this.access) await this.call('POST', '/auth/logout');
    } finally {
      this.clear();
    }
  }

  clear() {
    clearTimeout(this.timer);
    this.access = null;
    this.expiresAt = 0;
    try {
      sessionStorage.removeItem(REFRESH_KEY);
    } catch {
      /* nothing stored */
    }
  }

  end(reason) {
    this.clear();
    this.hooks.onSessionEnded(reason);
    return new SessionEnded(reason);
  }

  // The contract's calls.
  register(nickname, password, displayName) {
    const json = { nickname, password };
    if (displayName) json.display_name = displayName;
    return this.call('POST', '/users', { json, auth: false });
  }
  me() { return this.call('GET', '/users/me'); }
  updateMe(fields) { return this.call('PATCH', '/users/me', { json: fields }); }
  putAvatar(file) { return this.call('PUT', '/users/me/avatar', { body: file, contentType: file.type }); }
  deleteAvatar() { return this.call('DELETE', '/users/me/avatar'); }
  user(id) { return this.call('GET', `/users/${enc(id)}`); }
  search(q, limit = 20) { return this.call('GET', `/users?nickname=${enc(q)}&limit=${limit}`); }
  friends(status = 'all') { return this.call('GET', `/friends?status=${enc(status)}`); }
  requestFriend(userId) { return this.call('POST', '/friends/requests', { json: { user_id: userId } }); }
  accept(userId) { return this.call('POST', `/friends/requests/${enc(userId)}/accept`); }
  decline(userId) { return this.call('POST', `/friends/requests/${enc(userId)}/decline`); }
  blocks() { return this.call('GET', '/blocks'); }
  block(userId) { return this.call('PUT', `/blocks/${enc(userId)}`); }
  unblock(userId) { return this.call('DELETE', `/blocks/${enc(userId)}`); }
  removeFriend(userId) { return this.call('DELETE', `/friends/${enc(userId)}`); }
  chats() { return this.call('GET', '/chats'); }
  history(peerId, { before, after, limit = 30 } = {}) {
    let q = `limit=${limit}`;
    if (before) q += `&before=${enc(before)}`;
    if (after) q += `&after=${enc(after)}`;
    return this.call('GET', `/chats/${enc(peerId)}/messages?${q}`);
  }
  send(peerId, text, clientMessageId) {
    return this.call('POST', `/chats/${enc(peerId)}/messages`, { json: { text, client_message_id: clientMessageId } });
  }
  editMessage(peerId, id, text) { return this.call('PATCH', `/chats/${enc(peerId)}/messages/${enc(id)}`, { json: { text } }); }
  deleteMessage(peerId, id) { return this.call('DELETE', `/chats/${enc(peerId)}/messages/${enc(id)}`); }
  typing(peerId) { return this.call('POST', `/chats/${enc(peerId)}/typing`); }
  markRead(peerId, upToId) { return this.call('POST', `/chats/${enc(peerId)}/read`, { json: { up_to_id: upToId } }); }
  sessions() { return this.call('GET', '/auth/sessions'); }
  revokeSession(id) { return this.call('DELETE', `/auth/sessions/${enc(id)}`); }
}

const enc = encodeURIComponent;

async function parse(res) {
  if (res.status === 204) return null;
  let data = null;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code, e.message, Number(res.headers.get('Retry-After')) || 0);
  }
  return data;
}
