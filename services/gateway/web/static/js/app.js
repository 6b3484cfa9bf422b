// SimpleMessenger in the browser: the screens and what the push connection changes on them.
import { Api, ApiError } from './api.js';
import { PushSocket } from './socket.js';
import { $, h, say, cmpId, maxId, displayName, avatar, formatTime, dayKey, dayLabel } from './dom.js';

const PAGE = 30; // messages per history page (the contract allows up to 100)
const TEXT_MAX = 4000; // the contract's longest message, in Unicode code points
const COUNT_FROM = 3500; // the composer shows its count from here on
const TYPING_EVERY = 3000; // while the user types, the peer is told at most this often (ms)
const AVATAR_MAX = 1 << 20;

const api = new Api({ onSessionEnded: (reason) => sessionEnded(reason) });
const socket = new PushSocket({
  token: () => api.token(),
  refresh: () => api.refresh(),
  onFrame,
  onOpen: onSocketOpen,
  onStatus: setStatus,
  onRevoked: () => {
    api.clear();
    sessionEnded('revoked');
  },
});

let state = freshState();

function freshState() {
  return {
    me: null,
    avatarVersion: String(Date.now()),
    avatarVersions: new Map(), // user id -> a version for their avatar's URL, new when their profile.updated came
    chats: new Map(), // peer id -> {peer, last_message, unread_count, since (a friend without messages yet)}
    readMarks: new Map(), // peer id -> the newest of my messages the peer has read (chat list, message.read pushes)
    friends: [], // GET /friends items
    presence: new Map(), // friend id -> {online, last_seen_at, version}: the newest (highest version) heard
    blocked: [], // GET /blocks items
    pendingCount: 0,
    search: [],
    view: 'chats',
    chat: null, // the open chat, see openChat
  };
}

/**
 * A person's avatar, loaded again after their profile changed (the URL is the same, the picture may not be), with
 * a green dot while they are online (friends only: nobody else's presence is known).
 */
function personAvatar(user) {
  const pic = avatar(user, state.avatarVersions.get(user.id));
  const p = state.presence.get(user.id);
  if (!p) return pic;
  return h('span', { class: 'avatar-wrap', dataset: { presence: p.online ? 'online' : 'offline' } },
    pic,
    p.online ? h('span', { class: 'presence-dot', title: 'online' }) : null,
    h('span', { class: 'sr-only', text: p.online ? ', online' : '' }));
}

/** "online", "last seen …", or "" for someone whose presence is unknown (not a friend, never seen). */
function presenceText(userId) {
  const p = state.presence.get(userId);
  if (!p) return '';
  if (p.online) return 'online';
  return p.last_seen_at ? `last seen ${formatTime(p.last_seen_at)}` : 'offline';
}

/**
 * What was heard of a friend's presence (a presence push, the friends.presence entry frame, the friends list),
 * kept only if it is newer than what is known: each change has a higher version, and the three sources may
 * arrive in any order.
 */
function learnPresence(userId, online, lastSeenAt, version) {
  const known = state.presence.get(userId);
  const v = Number(version) || 0;
  if (known && known.version > v) return false;
  state.presence.set(userId, { online: Boolean(online), last_seen_at: lastSeenAt || null, version: v });
  return true;
}

/** A friend's presence changed: every place it shows follows. */
function presenceChanged(userId, online, lastSeenAt, version) {
  if (!learnPresence(userId, online, lastSeenAt, version)) return;
  chatListKey = '';
  renderChatList();
  if (state.chat && state.chat.peer.id === userId) say('chat-presence', presenceText(userId));
  if (state.view === 'people') renderPeople();
}

// ---------------------------------------------------------------- screens

const SECTIONS = ['welcome', 'chat', 'people', 'profile', 'sessions'];
const FOCUS = { chats: 'chats-title', chat: 'message-input', people: 'people-title', profile: 'profile-title', sessions: 'sessions-title' };

// The URL names the screen (#/, #/chat/<peer id>, #/people, #/profile, #/sessions): Back and Forward move between
// screens inside the messenger, and a reload opens the same screen (the same chat) again.
let routing = false; // true while showing what the URL says: no new history entry then

function remember(view, peerId) {
  const hash = view === 'chat' ? `#/chat/${encodeURIComponent(peerId)}` : view === 'chats' ? '#/' : `#/${view}`;
  if (routing || location.hash === hash) return;
  history.pushState(null, '', hash);
}

/** Shows the screen the URL names (at entry, and when the user goes Back or Forward). */
async function route() {
  const m = /^#\/(?:chat\/([^/]+)|(people|profile|sessions))?$/.exec(location.hash || '#/');
  routing = true;
  try {
    if (m && m[1]) {
      let id = '';
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        id = ''; // a malformed URL names no chat
      }
      let peer = id ? state.chats.get(id)?.peer : null;
      if (!peer && id) peer = await api.user(id).catch(() => null);
      if (peer && state.me) openChat(peer);
      else show('chats');
    } else if (m && m[2]) {
      openView(m[2]);
    } else {
      show('chats');
    }
  } finally {
    routing = false;
  }
}

window.addEventListener('popstate', () => {
  // Only the messenger's own URLs (#/…): an in-page link such as the skip link's #main is not a screen.
  if (state.me && (location.hash === '' || location.hash.startsWith('#/'))) route();
});

function show(view, { focus = true, peerId } = {}) {
  if (view !== 'chat') state.chat = null;
  remember(view, peerId);
  state.view = view;
  document.body.dataset.view = view;
  const section = view === 'chats' ? 'welcome' : view;
  for (const s of SECTIONS) $(`${s}-view`).hidden = s !== section;
  for (const b of document.querySelectorAll('.nav button[data-view]')) {
    const current = b.dataset.view === view || (view === 'chat' && b.dataset.view === 'chats');
    if (current) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  if (focus) $(FOCUS[view])?.focus();
}

function showAuth(notice) {
  document.body.dataset.view = 'auth';
  $('app-view').hidden = true;
  $('auth-view').hidden = false;
  $('skip-link').href = '#auth-view';
  say('auth-notice', notice);
  $('login-nickname').focus();
}

function setStatus(s) {
  const el = $('conn-status');
  el.dataset.state = s;
  el.textContent = { connecting: 'Connecting…', online: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' }[s] || s;
}

function announce(text) {
  const el = $('announcer');
  el.textContent = '';
  setTimeout(() => {
    el.textContent = text;
  }, 50);
}

function badge(id, n) {
  const el = $(id);
  el.hidden = !n;
  el.textContent = n ? String(n) : '';
}

function errorText(e) {
  if (e instanceof ApiError) {
    switch (e.code) {
      case 'invalid_credentials':
        return 'Wrong nickname or password.';
      case 'nickname_taken':
        return 'That nickname is taken.';
      case 'not_friends':
        return 'You can only write to friends.';
      default:
        return e.message + (e.retryAfter ? ` Try again in ${e.retryAfter} s.` : '');
    }
  }
  if (e && e.name === 'SessionEnded') return 'Your session ended.';
  return 'Cannot reach the server. Check your connection.';
}

async function busy(form, fn) {
  const b = form.querySelector('button[type="submit"]');
  if (b) b.disabled = true;
  try {
    await fn();
  } finally {
    if (b) b.disabled = false;
  }
}

/** A random client_message_id (crypto.randomUUID needs a secure context; getRandomValues does not). */
function newClientId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------- entering and leaving

async function boot() {
  if (api.hasStoredSession()) {
    try {
      await api.refresh();
      await enterApp();
      return;
    } catch (e) {
      if (e && e.name === 'SessionEnded') return; // sessionEnded showed the login screen
      showAuth('Cannot reach the server right now. Log in again when it is back.');
      return;
    }
  }
  showAuth();
}

async function enterApp() {
  const wanted = location.hash; // the screen a reload (or a link) asks for
  state = freshState();
  state.me = await api.me();
  $('auth-view').hidden = true;
  $('app-view').hidden = false;
  $('skip-link').href = '#main';
  clearAuthForms();
  renderChatList();
  routing = true;
  show('chats', { focus: false });
  routing = false;
  $('chats-title').focus();
  setStatus('connecting');
  socket.start();
  loadChats();
  loadPeople(); // friends without messages yet are chats too
  if (wanted && wanted !== '#/' && wanted !== '#') {
    history.replaceState(null, '', wanted);
    route();
  } else if (location.hash !== '#/') {
    history.replaceState(null, '', '#/');
  }
}

function resetUI() {
  for (const id of ['chat-list', 'messages', 'search-results', 'incoming-list', 'outgoing-list', 'friends-list', 'blocked-list', 'sessions-list']) {
    $(id).replaceChildren();
  }
  chatListKey = '';
  badge('nav-chats-badge', 0);
  badge('nav-people-badge', 0);
  document.title = 'SimpleMessenger';
}

function sessionEnded(reason) {
  socket.stop();
  const wasIn = !!state.me;
  state = freshState();
  resetUI();
  clearAuthForms();
  if (wasIn) history.replaceState(null, '', location.pathname); // whoever logs in next starts at their own chat list
  if (!wasIn && reason === 'no_session') return;
  showAuth(reason === 'revoked'
    ? 'This session was ended (logged out or revoked elsewhere). Please log in again.'
    : 'Your session has expired. Please log in again.');
}

/**
 * Marks the fields an error is about (aria-invalid, the error read with them through aria-describedby) and shows
 * it; fieldError(errorId, '') clears the message and every field it marked. A field's own hint stays first.
 */
function fieldError(errorId, text, ...fieldIds) {
  for (const el of document.querySelectorAll(`[aria-invalid="true"][data-error="${errorId}"]`)) {
    el.removeAttribute('aria-invalid');
    el.setAttribute('aria-describedby', el.dataset.hint || '');
    if (!el.dataset.hint) el.removeAttribute('aria-describedby');
    delete el.dataset.error;
  }
  say(errorId, text);
  if (!text) return;
  for (const id of fieldIds) {
    const el = $(id);
    if (el.dataset.hint === undefined) el.dataset.hint = el.getAttribute('aria-describedby') || '';
    el.setAttribute('aria-invalid', 'true');
    el.dataset.error = errorId;
    el.setAttribute('aria-describedby', `${el.dataset.hint} ${errorId}`.trim());
  }
}

/** The fields an API error of the registration or login is about. */
const ERROR_FIELDS = {
  invalid_nickname: ['register-nickname'], nickname_taken: ['register-nickname'],
  invalid_password: ['register-password'], invalid_display_name: ['register-display-name'],
  invalid_credentials: ['login-nickname', 'login-password'],
};

/** Empties both forms and their errors: nothing of the previous user stays on the login screen. */
function clearAuthForms() {
  $('login-form').reset();
  $('register-form').reset();
  fieldError('login-error', '');
  fieldError('register-error', '');
  say('auth-notice', '');
}

// An error is about what was typed: it goes as soon as the user changes it.
for (const [form, errorId] of [['login-form', 'login-error'], ['register-form', 'register-error']]) {
  $(form).addEventListener('input', () => fieldError(errorId, ''));
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const nickname = $('login-nickname').value.trim();
  const password = $('login-password').value;
  if (!nickname || !password) {
    fieldError('login-error', 'Enter your nickname and password.', ...(nickname ? [] : ['login-nickname']), ...(password ? [] : ['login-password']));
    return;
  }
  fieldError('login-error', '');
  busy(ev.target, async () => {
    try {
      await api.login(nickname, password);
      $('login-password').value = '';
      await enterApp();
    } catch (e) {
      fieldError('login-error', errorText(e), ...(ERROR_FIELDS[e && e.code] || []));
    }
  });
});

$('register-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const nickname = $('register-nickname').value.trim();
  const displayNameValue = $('register-display-name').value.trim();
  const password = $('register-password').value;
  if (!/^[A-Za-z0-9_.-]{3,32}$/.test(nickname)) {
    fieldError('register-error', 'The nickname must be 3–32 letters, digits, “_”, “.” or “-”.', 'register-nickname');
    $('register-nickname').focus();
    return;
  }
  if ([...password].length < 8 || [...password].length > 128) {
    fieldError('register-error', 'The password must be 8–128 characters.', 'register-password');
    $('register-password').focus();
    return;
  }
  fieldError('register-error', '');
  busy(ev.target, async () => {
    try {
      await api.register(nickname, password, displayNameValue);
      await api.login(nickname, password);
      $('register-password').value = '';
      await enterApp();
    } catch (e) {
      fieldError('register-error', errorText(e), ...(ERROR_FIELDS[e && e.code] || []));
    }
  });
});

$('logout-button').addEventListener('click', async () => {
  socket.stop();
  try {
    await api.logout();
  } catch {
    /* the session is forgotten here either way */
  }
  state = freshState();
  resetUI();
  clearAuthForms();
  history.replaceState(null, '', location.pathname); // the next user starts at their own chat list
  showAuth('You are logged out.');
});

for (const b of document.querySelectorAll('.nav button[data-view]')) {
  b.addEventListener('click', () => openView(b.dataset.view));
}
$('back-button').addEventListener('click', () => show('chats'));

function openView(view) {
  show(view);
  if (view === 'people') loadPeople();
  if (view === 'profile') fillProfile();
  if (view === 'sessions') loadSessions();
}

// ---------------------------------------------------------------- push frames

function onSocketOpen() {
  // Entering again: the server sends the entry frames; the chat list, the friends (with their presence, which
  // changed unseen while the socket was down) and the open chat catch up by REST.
  loadChats();
  catchUpOpenChat();
  loadPeople();
}

function onFrame({ type, data }) {
  if (!state.me || !data) return;
  switch (type) {
    case 'message.new':
      onMessage(data);
      break;
    case 'message.edited':
    case 'message.deleted':
      onMessageChanged(data);
      break;
    case 'typing':
      if (state.chat && state.chat.peer.id === data.peer_id) showTyping(Number(data.expires_in_ms) || 6000);
      break;
    case 'message.read': {
      state.readMarks.set(data.peer_id, maxId(state.readMarks.get(data.peer_id), data.up_to_id));
      if (state.chat && state.chat.peer.id === data.peer_id) renderMessages(state.chat);
      break;
    }
    case 'messages.unread': {
      const items = data.items || [];
      const chat = state.chat;
      if (chat) {
        const fresh = items.filter((m) => m.sender_id === chat.peer.id || m.recipient_id === chat.peer.id);
        if (merge(chat, fresh)) {
          renderMessages(chat);
          maybeMarkRead();
        }
      }
      if (data.total) announce(`${data.total} unread message${data.total === 1 ? '' : 's'}`);
      loadChats();
      break;
    }
    case 'friends.pending':
      state.pendingCount = (data.items || []).length;
      badge('nav-people-badge', state.pendingCount);
      if (state.view === 'people') loadPeople();
      break;
    case 'friend.request':
      state.pendingCount++;
      badge('nav-people-badge', state.pendingCount);
      announce(`${displayName(data.user)} sent you a friend request`);
      if (state.view === 'people') loadPeople();
      break;
    case 'friend.accepted':
      announce(`${displayName(data.user)} accepted your friend request`);
      loadPeople(); // the new friend is a chat at once
      break;
    case 'friend.removed':
      announce(`${displayName(data.user)} removed you as a friend`);
      loadPeople();
      break;
    case 'profile.updated':
      if (data.user && data.user.id) profileChanged(data.user);
      break;
    case 'presence':
      if (data.user_id) presenceChanged(data.user_id, data.online, data.last_seen_at, data.version);
      break;
    case 'friends.presence':
      // The entry frame: every friend's presence as this connection opened.
      for (const p of data.items || []) learnPresence(p.user_id, p.online, p.last_seen_at, p.version);
      chatListKey = '';
      renderChatList();
      if (state.chat) say('chat-presence', presenceText(state.chat.peer.id));
      if (state.view === 'people') renderPeople();
      break;
    default:
    // Unknown frame types are ignored (the contract may add some).
  }
}

function onMessage(m) {
  const mine = m.sender_id === state.me.id;
  if (!mine && state.chat && state.chat.peer.id === m.sender_id) showTyping(0); // the message they were typing
  const peerId = mine ? m.recipient_id : m.sender_id;
  const chat = state.chat && state.chat.peer.id === peerId ? state.chat : null;
  let c = state.chats.get(peerId);
  if (!c && chat) {
    c = { peer: chat.peer, last_message: null, unread_count: 0 };
    state.chats.set(peerId, c);
  }
  if (!c) {
    // A chat this page does not know yet: the list call brings its peer and count.
    if (!mine) announce(`New message: ${m.text}`);
    loadChats();
    return;
  }
  const isNew = !c.last_message || cmpId(m.id, c.last_message.id) > 0;
  if (isNew) {
    c.last_message = m;
    if (!mine) c.unread_count = (c.unread_count || 0) + 1;
    if (!mine) announce(`New message from ${displayName(c.peer)}: ${m.text}`);
  }
  if (chat && merge(chat, [m])) {
    say('history-status', '');
    renderMessages(chat, { stick: mine });
  }
  renderChatList();
  maybeMarkRead();
}

// ---------------------------------------------------------------- chat list

let chatsLoading = null;
let chatsAgain = false;

/** Loads the chat list; calls made while one is in flight are folded into one more load after it. */
function loadChats() {
  if (chatsLoading) {
    chatsAgain = true;
    return chatsLoading;
  }
  chatsLoading = (async () => {
    do {
      chatsAgain = false;
      try {
        const res = await api.chats();
        if (!state.me) return;
        const next = new Map();
        for (const c of res.items || []) {
          // How far the peer has read what I sent: after a reload the list is all there is to tell.
          if (c.peer_read_up_to_id) state.readMarks.set(c.peer.id, maxId(state.readMarks.get(c.peer.id), c.peer_read_up_to_id));
          const local = state.chats.get(c.peer.id);
          // A message pushed after the server made this list is newer than its last_message: keep ours.
          if (local && local.last_message && c.last_message && cmpId(local.last_message.id, c.last_message.id) > 0) {
            next.set(c.peer.id, local);
          } else {
            next.set(c.peer.id, c);
          }
        }
        for (const [id, c] of state.chats) if (!next.has(id) && (!c.last_message || state.chat?.peer.id === id)) next.set(id, c);
        state.chats = next;
        renderChatList();
        maybeMarkRead();
      } catch (e) {
        if (e && e.name === 'SessionEnded') return;
      }
    } while (chatsAgain);
  })().finally(() => {
    chatsLoading = null;
  });
  return chatsLoading;
}

let chatListKey = '';

/** When a chat last moved: its newest message, or for a friend without messages when the friendship began. */
function chatTime(c) {
  return Date.parse(c.last_message?.created_at || c.since || '') || 0;
}

function renderChatList() {
  if (!state.me) return;
  const chatsSorted = [...state.chats.values()].sort((a, b) => chatTime(b) - chatTime(a)
    || cmpId(b.last_message?.id || '0', a.last_message?.id || '0'));
  // Rebuilt only when something shown changed: a node replaced under the pointer would lose the user's click.
  const key = JSON.stringify([state.chat?.peer.id, chatsSorted.map((c) => [c.peer.id, displayName(c.peer), c.peer.has_avatar, c.last_message?.id, c.last_message?.text, c.last_message?.deleted_at, c.unread_count, presenceText(c.peer.id)])]);
  if (key === chatListKey && $('chat-list').childElementCount === chatsSorted.length) return;
  chatListKey = key;
  const focused = document.activeElement && document.activeElement.classList.contains('chat-item')
    ? document.activeElement.dataset.peer : null;
  const chats = chatsSorted;
  let total = 0;
  const items = chats.map((c) => {
    const peer = c.peer;
    const unread = c.unread_count || 0;
    total += unread;
    const last = c.last_message;
    const preview = last ? (last.sender_id === state.me.id ? 'You: ' : '') + (last.deleted_at ? 'Message deleted' : last.text) : 'No messages yet';
    const current = state.chat && state.chat.peer.id === peer.id;
    const button = h('button', {
      type: 'button', class: 'chat-item', 'aria-current': current ? 'true' : null,
      dataset: { peer: peer.id, nickname: peer.nickname }, onclick: () => openChat(peer),
    },
    personAvatar(peer),
    h('span', { class: 'text' },
      h('span', { class: 'name', text: displayName(peer) }),
      h('span', { class: 'preview', text: preview })),
    unread ? h('span', { class: 'badge', 'aria-hidden': 'true', text: String(unread) }) : null,
    unread ? h('span', { class: 'sr-only', text: `, ${unread} unread` }) : null);
    return h('li', {}, button);
  });
  $('chat-list').replaceChildren(...items);
  $('chats-empty').hidden = items.length > 0;
  badge('nav-chats-badge', total);
  document.title = total ? `(${total}) SimpleMessenger` : 'SimpleMessenger';
  if (focused) document.querySelector(`.chat-item[data-peer="${CSS.escape(focused)}"]`)?.focus();
}

// ---------------------------------------------------------------- chat view

async function openChat(peer) {
  if (!state.chats.has(peer.id)) state.chats.set(peer.id, { peer, last_message: null, unread_count: 0 });
  show('chat', { peerId: peer.id });
  const chat = {
    peer: state.chats.get(peer.id).peer,
    messages: new Map(), // id -> message
    nodes: new Map(), // id -> its <li>
    nextBefore: undefined, // the contract's cursor for the next older page; null at the start of the chat
    loadingOlder: false,
    sentRead: '0', // the newest id this page has marked read
    draftId: null,
    draftText: '',
  };
  state.chat = chat;
  showTyping(0);
  showChatPeer(chat.peer);
  $('messages').replaceChildren();
  $('load-older').hidden = true;
  say('send-error', '');
  say('history-status', 'Loading…');
  renderChatList();
  if (!('bio' in chat.peer)) {
    // Friends lists carry a summary: the full profile has the bio.
    api.user(peer.id).then((p) => {
      if (state.chat !== chat) return;
      chat.peer = p;
      state.chats.get(p.id).peer = p;
      showChatPeer(p);
      renderChatList();
    }).catch(() => {});
  }
  try {
    const page = await api.history(peer.id, { limit: PAGE });
    if (state.chat !== chat) return;
    chat.nextBefore = page.next_before;
    merge(chat, page.items || []);
    say('history-status', chat.messages.size ? '' : 'No messages yet. Say hello!');
    renderMessages(chat, { stick: true });
    maybeMarkRead();
    requestAnimationFrame(checkOlder);
  } catch (e) {
    if (state.chat === chat) say('history-status', errorText(e));
  }
}

/** The open chat's header: the peer's name, picture and bio. */
function showChatPeer(peer) {
  $('chat-title').textContent = displayName(peer);
  $('chat-avatar').replaceChildren(personAvatar(peer));
  say('chat-presence', presenceText(peer.id));
  say('chat-bio', peer.bio || '');
}

/** A friend's new profile (profile.updated): everywhere it shows, at once. */
function profileChanged(user) {
  state.avatarVersions.set(user.id, String(Date.now()));
  const c = state.chats.get(user.id);
  if (c) c.peer = user;
  for (const f of state.friends) {
    if (f.user.id === user.id) f.user = { id: user.id, nickname: user.nickname, display_name: user.display_name, has_avatar: user.has_avatar };
  }
  if (state.chat && state.chat.peer.id === user.id) {
    state.chat.peer = user;
    showChatPeer(user);
  }
  chatListKey = '';
  renderChatList();
  if (state.view === 'people') renderPeople();
}

/** After a reconnect: everything newer than what the open chat shows, page by page (?after=). */
async function catchUpOpenChat() {
  const chat = state.chat;
  if (!chat || chat.nextBefore === undefined) return;
  try {
    let after = [...chat.messages.keys()].reduce((a, b) => maxId(a, b), null);
    if (!after) {
      const page = await api.history(chat.peer.id, { limit: PAGE });
      if (state.chat !== chat) return;
      chat.nextBefore = page.next_before;
      merge(chat, page.items || []);
    } else {
      for (let i = 0; i < 20; i++) {
        const page = await api.history(chat.peer.id, { after, limit: 100 });
        if (state.chat !== chat) return;
        merge(chat, page.items || []);
        if (!page.items || page.items.length < 100) break;
        after = page.next_after;
      }
    }
    if (chat.messages.size) say('history-status', '');
    renderMessages(chat);
    maybeMarkRead();
  } catch {
    /* the next reconnect tries again */
  }
}

/** Adds messages by id (never twice), and takes a newer version of one shown (edited or deleted since); returns
 * how many changed. */
function merge(chat, items) {
  let added = 0;
  for (const m of items) {
    const old = chat.messages.get(m.id);
    // A late push must not undo a newer version: a deletion stays, and of two edits the later one wins.
    const newer = !old || (m.deleted_at && !old.deleted_at)
      || (!old.deleted_at && !m.deleted_at && (m.edited_at || '') > (old.edited_at || ''));
    if (newer) {
      chat.messages.set(m.id, m);
      chat.nodes.delete(m.id);
      added++;
    }
  }
  return added;
}

/** A message edited or deleted (by the push, or the answer to my own call): shown as it is now. */
function onMessageChanged(m) {
  const peerId = m.sender_id === state.me.id ? m.recipient_id : m.sender_id;
  if (m.deleted_at && m.sender_id !== state.me.id) loadChats(); // an unread message may have left my count
  if (state.chat && state.chat.peer.id === peerId && merge(state.chat, [m])) renderMessages(state.chat);
  const c = state.chats.get(peerId);
  if (c && c.last_message && c.last_message.id === m.id) {
    c.last_message = m;
    renderChatList();
  }
}

async function editMessage(m) {
  const text = window.prompt('Edit your message', m.text);
  if (text === null || text === m.text) return;
  try {
    onMessageChanged(await api.editMessage(m.recipient_id, m.id, text));
  } catch (e) {
    say('send-error', errorText(e));
  }
}

async function deleteMessage(m) {
  if (!window.confirm('Delete this message for both of you?')) return;
  try {
    await api.deleteMessage(m.recipient_id, m.id);
    // Shown at once; the message.deleted push brings the time the server recorded.
    onMessageChanged({ ...m, text: '', deleted_at: new Date().toISOString() });
  } catch (e) {
    say('send-error', errorText(e));
  }
}

function messageNode(chat, m) {
  const mine = m.sender_id === state.me.id;
  const deleted = !!m.deleted_at;
  return h('li', { class: `msg ${mine ? 'mine' : 'theirs'}${deleted ? ' deleted' : ''}`, dataset: { id: m.id } },
    h('span', { class: 'sr-only', text: mine ? 'You: ' : `${displayName(chat.peer)}: ` }),
    h('p', { class: 'text', text: deleted ? 'Message deleted' : m.text }),
    h('span', { class: 'meta' },
      m.edited_at && !deleted ? h('span', { class: 'edited', text: 'edited ' }) : null,
      h('time', { datetime: m.created_at, text: formatTime(m.created_at) }),
      h('span', { class: 'read-mark', hidden: true, text: 'Read' }),
      mine && !deleted ? h('span', { class: 'actions' },
        h('button', { type: 'button', class: 'link', dataset: { action: 'edit' }, 'aria-label': 'Edit this message', onclick: () => editMessage(m) }, 'Edit'),
        h('button', { type: 'button', class: 'link', dataset: { action: 'delete' }, 'aria-label': 'Delete this message', onclick: () => deleteMessage(m) }, 'Delete')) : null));
}

function renderMessages(chat, { stick = false, prepend = false } = {}) {
  if (state.chat !== chat) return;
  const history = $('history');
  const nearBottom = history.scrollHeight - history.scrollTop - history.clientHeight < 80;
  const oldHeight = history.scrollHeight;
  const oldTop = history.scrollTop;
  const ids = [...chat.messages.keys()].sort(cmpId);
  const readUpTo = state.readMarks.get(chat.peer.id) || '0';
  let newestRead = null;
  for (const id of ids) {
    if (chat.messages.get(id).sender_id === state.me.id && cmpId(id, readUpTo) <= 0) newestRead = id;
  }
  // A divider opens each day, in the reader's time zone: "Today", "Yesterday", then dates.
  const nodes = [];
  let day = null;
  for (const id of ids) {
    const m = chat.messages.get(id);
    if (dayKey(m.created_at) !== day) {
      day = dayKey(m.created_at);
      nodes.push(h('li', { class: 'day', role: 'separator' }, h('span', { text: dayLabel(m.created_at) })));
    }
    let li = chat.nodes.get(id);
    if (!li) {
      li = messageNode(chat, m);
      chat.nodes.set(id, li);
    }
    li.querySelector('.read-mark').hidden = id !== newestRead;
    li.classList.toggle('read', newestRead !== null && cmpId(id, newestRead) <= 0 && li.classList.contains('mine'));
    nodes.push(li);
  }
  $('messages').replaceChildren(...nodes);
  $('load-older').hidden = !chat.nextBefore;
  if (prepend) history.scrollTop = oldTop + (history.scrollHeight - oldHeight);
  else if (stick || nearBottom) history.scrollTop = history.scrollHeight;
}

async function loadOlder() {
  const chat = state.chat;
  if (!chat || !chat.nextBefore || chat.loadingOlder) return;
  chat.loadingOlder = true;
  say('history-status', 'Loading older messages…');
  try {
    const page = await api.history(chat.peer.id, { before: chat.nextBefore, limit: PAGE });
    if (state.chat !== chat) return;
    chat.nextBefore = page.next_before;
    merge(chat, page.items || []);
    say('history-status', chat.nextBefore ? '' : 'This is the beginning of the conversation.');
    renderMessages(chat, { prepend: true });
  } catch (e) {
    say('history-status', errorText(e));
  } finally {
    chat.loadingOlder = false;
  }
  requestAnimationFrame(checkOlder);
}

/** Infinite scroll: loads the next older page when the top of the history is in view. */
function checkOlder() {
  const chat = state.chat;
  if (!chat || !chat.nextBefore || chat.loadingOlder) return;
  if ($('history').scrollTop < 120) loadOlder();
}

$('history').addEventListener('scroll', checkOlder, { passive: true });
$('load-older').addEventListener('click', loadOlder);

/** Marks the open chat read up to its newest message from the peer, when the user can see it. */
function maybeMarkRead() {
  const chat = state.chat;
  if (!chat || state.view !== 'chat' || document.visibilityState !== 'visible') return;
  const c = state.chats.get(chat.peer.id);
  if (c && c.unread_count) {
    c.unread_count = 0;
    renderChatList();
  }
  let newest = null;
  for (const m of chat.messages.values()) {
    if (m.sender_id === chat.peer.id) newest = maxId(newest, m.id);
  }
  if (!newest || cmpId(newest, chat.sentRead) <= 0) return;
  chat.sentRead = newest;
  api.markRead(chat.peer.id, newest).catch(() => {
    if (chat.sentRead === newest) chat.sentRead = '0';
  });
}

document.addEventListener('visibilitychange', maybeMarkRead);

/** The message box grows with its text (up to its CSS max-height, then it scrolls). */
function fitComposer() {
  const input = $('message-input');
  input.style.height = 'auto';
  input.style.height = `${input.scrollHeight + 2}px`;
}

/** Counts the text in code points, as the contract does; shown near and over the limit. */
function updateCount() {
  const n = [...$('message-input').value].length;
  const el = $('composer-count');
  el.classList.toggle('over', n > TEXT_MAX);
  say('composer-count', n < COUNT_FROM ? ''
    : n > TEXT_MAX ? `${n.toLocaleString()} / ${TEXT_MAX.toLocaleString()}: ${(n - TEXT_MAX).toLocaleString()} too many`
      : `${n.toLocaleString()} / ${TEXT_MAX.toLocaleString()}`);
  return n;
}

$('message-input').addEventListener('input', () => {
  say('send-error', '');
  updateCount();
  fitComposer();
  tellTyping();
});

/** Tells the open chat's peer that I am typing, at most every TYPING_EVERY ms; never for an empty box. */
function tellTyping() {
  const chat = state.chat;
  if (!chat || !$('message-input').value.trim() || Date.now() - (chat.typingSent || 0) < TYPING_EVERY) return;
  chat.typingSent = Date.now();
  api.typing(chat.peer.id).catch(() => {}); // a notice that does not arrive is no loss
}

let typingTimer = null;

/** Shows (or, with 0, clears) "typing…" for the open chat's peer. */
function showTyping(ms) {
  clearTimeout(typingTimer);
  say('chat-typing', ms > 0 && state.chat ? `${displayName(state.chat.peer)} is typing…` : '');
  if (ms > 0) typingTimer = setTimeout(() => say('chat-typing', ''), ms);
}

$('message-input').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $('send-form').requestSubmit();
  }
});

$('send-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const chat = state.chat;
  if (!chat) return;
  const input = $('message-input');
  const text = input.value;
  say('send-error', '');
  if (!text.trim()) return;
  // Never cut a message: a text over the limit stays in the box, with what to do about it.
  const n = updateCount();
  if (n > TEXT_MAX) {
    say('send-error', `This message is ${n.toLocaleString()} characters long; the limit is ${TEXT_MAX.toLocaleString()}. Shorten it, or send it in parts.`);
    return;
  }
  // The same text sent again (a retry after an error, a double Enter) keeps its id: never a duplicate.
  if (chat.draftText !== text || !chat.draftId) {
    chat.draftText = text;
    chat.draftId = newClientId();
  }
  input.value = ''; // ready for the next message at once; the text comes back if sending fails
  updateCount();
  fitComposer();
  try {
    const m = await api.send(chat.peer.id, text, chat.draftId);
    if (chat.draftText === text) {
      chat.draftId = null;
      chat.draftText = '';
    }
    onMessage(m);
  } catch (e) {
    if (state.chat !== chat) return;
    say('send-error', errorText(e));
    if (!input.value) {
      input.value = text;
      updateCount();
      fitComposer();
    }
  }
});

// ---------------------------------------------------------------- people and friends

async function loadPeople() {
  try {
    const [res, blocked] = await Promise.all([api.friends('all'), api.blocks()]);
    if (!state.me) return;
    state.friends = res.items || [];
    state.blocked = blocked.items || [];
    const friendIds = new Set();
    for (const i of state.friends) {
      if (i.status !== 'accepted' || !('online' in i)) continue;
      friendIds.add(i.user.id);
      learnPresence(i.user.id, i.online, i.last_seen_at, i.presence_version);
    }
    for (const id of [...state.presence.keys()]) if (!friendIds.has(id)) state.presence.delete(id);
    if (state.chat) say('chat-presence', presenceText(state.chat.peer.id));
    say('people-error', '');
    renderPeople();
    syncFriendChats();
  } catch (e) {
    say('people-error', errorText(e));
  }
}

/**
 * Every friend is a chat, from the moment the friendship begins: a friend without messages yet is listed as an
 * empty chat ("No messages yet"), and one who is no longer a friend leaves the list unless there are messages.
 */
function syncFriendChats() {
  const friends = new Map(state.friends.filter((i) => i.status === 'accepted').map((i) => [i.user.id, i]));
  for (const [id, f] of friends) {
    const c = state.chats.get(id);
    if (!c) state.chats.set(id, { peer: f.user, last_message: null, unread_count: 0, since: f.since });
    else if (!c.since) c.since = f.since;
  }
  for (const [id, c] of state.chats) {
    if (!c.last_message && !friends.has(id) && state.chat?.peer.id !== id) state.chats.delete(id);
  }
  renderChatList();
}

function personRow(user, actions) {
  return h('li', { dataset: { user: user.id, nickname: user.nickname } },
    personAvatar(user),
    h('span', { class: 'who' },
      h('strong', { text: displayName(user) }), ' ',
      h('span', { class: 'nick', text: `@${user.nickname}` })),
    ...actions);
}

function action(label, name, user, fn, cls) {
  return h('button', {
    type: 'button', class: cls, dataset: { action: name }, 'aria-label': `${label}: ${displayName(user)}`,
    onclick: async (ev) => {
      ev.currentTarget.disabled = true;
      try {
        await fn();
        say('people-error', '');
      } catch (e) {
        say('people-error', errorText(e));
      }
      await loadPeople();
    },
  }, label);
}

/** Block: they can no longer ask or write to me, our friendship ends, and they are not told. */
function blockAction(user) {
  return action('Block', 'block', user, async () => {
    if (window.confirm(`Block ${displayName(user)}? You will no longer be friends; they cannot ask you or write to you, and are not told.`)) {
      await api.block(user.id);
    }
  }, 'danger');
}

function fill(listId, emptyId, rows) {
  $(listId).replaceChildren(...rows);
  $(emptyId).hidden = rows.length > 0;
}

function renderPeople() {
  const by = (s) => state.friends.filter((i) => i.status === s);
  const incoming = by('incoming');
  fill('incoming-list', 'incoming-empty', incoming.map((i) => personRow(i.user, [
    action('Accept', 'accept', i.user, () => api.accept(i.user.id), 'primary'),
    action('Decline', 'decline', i.user, () => api.decline(i.user.id)),
    blockAction(i.user),
  ])));
  fill('outgoing-list', 'outgoing-empty', by('outgoing').map((i) => personRow(i.user, [
    action('Cancel request', 'cancel', i.user, () => api.removeFriend(i.user.id)),
  ])));
  fill('friends-list', 'friends-empty', by('accepted').map((i) => personRow(i.user, [
    h('span', { class: 'hint presence', text: presenceText(i.user.id) }),
    h('button', { type: 'button', dataset: { action: 'message' }, 'aria-label': `Message: ${displayName(i.user)}`, onclick: () => openChat(i.user) }, 'Message'),
    action('Remove', 'remove', i.user, async () => {
      if (window.confirm(`Remove ${displayName(i.user)} from your friends?`)) await api.removeFriend(i.user.id);
    }, 'danger'),
    blockAction(i.user),
  ])));
  fill('blocked-list', 'blocked-empty', state.blocked.map((i) => personRow(i.user, [
    action('Unblock', 'unblock', i.user, () => api.unblock(i.user.id)),
  ])));
  state.pendingCount = incoming.length;
  badge('nav-people-badge', state.pendingCount);
  renderSearch();
}

function renderSearch() {
  const relation = new Map(state.friends.map((i) => [i.user.id, i.status]));
  $('search-results').replaceChildren(...state.search.map((u) => {
    if (u.id === state.me.id) return personRow(u, [h('span', { class: 'hint', text: 'You' })]);
    if (state.blocked.some((b) => b.user.id === u.id)) {
      return personRow(u, [h('span', { class: 'hint', text: 'Blocked' }), action('Unblock', 'unblock', u, () => api.unblock(u.id))]);
    }
    switch (relation.get(u.id)) {
      case 'accepted':
        return personRow(u, [h('button', { type: 'button', dataset: { action: 'message' }, 'aria-label': `Message: ${displayName(u)}`, onclick: () => openChat(u) }, 'Message')]);
      case 'outgoing':
        return personRow(u, [h('span', { class: 'hint', text: 'Request sent' })]);
      case 'incoming':
        return personRow(u, [action('Accept', 'accept', u, () => api.accept(u.id), 'primary')]);
      default:
        return personRow(u, [action('Add friend', 'add', u, () => api.requestFriend(u.id), 'primary'), blockAction(u)]);
    }
  }));
}

$('search-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const q = $('search-input').value.trim();
  if (!q) return;
  say('search-status', 'Searching…');
  try {
    const [res] = await Promise.all([api.search(q), loadPeople()]);
    state.search = res.items || [];
    renderSearch();
    say('search-status', state.search.length ? `${state.search.length} found.` : 'Nobody found.');
  } catch (e) {
    say('search-status', errorText(e));
  }
});

// ---------------------------------------------------------------- profile and avatar

let previewURL = null;

function fillProfile() {
  const me = state.me;
  $('profile-nickname').textContent = me.nickname;
  $('profile-display-name').value = me.display_name || '';
  $('profile-bio').value = me.bio || '';
  say('profile-status', '');
  say('avatar-status', '');
  showAvatar();
}

function showAvatar() {
  $('avatar-preview').replaceChildren(avatar(state.me, state.avatarVersion));
  $('avatar-remove').disabled = !state.me.has_avatar;
}

$('profile-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  busy(ev.target, async () => {
    try {
      state.me = await api.updateMe({ display_name: $('profile-display-name').value, bio: $('profile-bio').value });
      say('profile-status', 'Profile saved.');
    } catch (e) {
      say('profile-status', errorText(e));
    }
  });
});

$('avatar-input').addEventListener('change', () => {
  const file = $('avatar-input').files[0];
  if (previewURL) URL.revokeObjectURL(previewURL);
  previewURL = null;
  if (!file) {
    showAvatar();
    return;
  }
  previewURL = URL.createObjectURL(file);
  $('avatar-preview').replaceChildren(h('img', { class: 'avatar', src: previewURL, alt: 'Preview of the new avatar' }));
  say('avatar-status', 'Preview: upload to keep it.');
});

$('avatar-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const file = $('avatar-input').files[0];
  if (!file) {
    say('avatar-status', 'Choose an image first.');
    return;
  }
  if (file.size > AVATAR_MAX) {
    say('avatar-status', 'The image is over 1 MiB.');
    return;
  }
  busy(ev.target, async () => {
    try {
      await api.putAvatar(file);
      state.me = { ...state.me, has_avatar: true };
      state.avatarVersion = String(Date.now());
      $('avatar-input').value = '';
      showAvatar();
      say('avatar-status', 'Avatar updated.');
    } catch (e) {
      say('avatar-status', e instanceof ApiError && e.status === 415 ? 'That is not a PNG, JPEG or GIF image this server accepts.' : errorText(e));
    }
  });
});

$('avatar-remove').addEventListener('click', async () => {
  try {
    await api.deleteAvatar();
    state.me = { ...state.me, has_avatar: false };
    showAvatar();
    say('avatar-status', 'Avatar removed.');
  } catch (e) {
    say('avatar-status', errorText(e));
  }
});

// ---------------------------------------------------------------- sessions

async function loadSessions() {
  try {
    const res = await api.sessions();
    say('sessions-error', '');
    $('sessions-list').replaceChildren(...(res.items || []).map((s) => h('li', { dataset: { session: s.id, current: s.current ? 'true' : 'false' } },
      h('span', { class: 'who' },
        h('strong', { text: s.current ? 'This browser' : shortAgent(s.user_agent) }), h('br'),
        h('span', { class: 'meta', text: `${s.current ? shortAgent(s.user_agent) + ' · ' : ''}since ${formatTime(s.created_at)} · last used ${formatTime(s.last_used_at)}` })),
      s.current
        ? h('button', { type: 'button', onclick: () => $('logout-button').click() }, 'Log out')
        : h('button', {
          type: 'button', class: 'danger', dataset: { action: 'revoke' }, 'aria-label': `Revoke session: ${shortAgent(s.user_agent)}`,
          onclick: async () => {
            try {
              await api.revokeSession(s.id);
            } catch (e) {
              say('sessions-error', errorText(e));
            }
            loadSessions();
          },
        }, 'Revoke'))));
  } catch (e) {
    say('sessions-error', errorText(e));
  }
}

function shortAgent(ua) {
  if (!ua) return 'Unknown device';
  return ua.length > 80 ? `${ua.slice(0, 77)}…` : ua;
}

boot();
