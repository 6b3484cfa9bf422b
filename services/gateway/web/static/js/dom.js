// Small DOM helpers. Text always goes in as text nodes (textContent), never as markup: user content cannot
// inject elements, and the page's Content-Security-Policy forbids inline handlers anyway.

/** h("li", {class: "x", dataset: {id}}, child, "text") builds an element; on* props are listeners. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

/** Sets an element's text, hiding nothing: empty text collapses it through CSS (:empty). */
export function say(id, text) {
  $(id).textContent = text || '';
}

/** Compares message ids: decimal strings that may exceed 2^53, so as BigInts. */
export function cmpId(a, b) {
  const x = BigInt(a), y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function maxId(a, b) {
  if (!a) return b;
  if (!b) return a;
  return cmpId(a, b) >= 0 ? a : b;
}

export function displayName(u) {
  return (u && (u.display_name || u.nickname)) || 'Unknown';
}

/** An avatar image for a profile with has_avatar, else the name's initial on a coloured disc. */
export function avatar(user, version) {
  if (user && user.has_avatar) {
    const v = version ? `?v=${encodeURIComponent(version)}` : '';
    return h('img', { class: 'avatar', src: `/api/v1/users/${encodeURIComponent(user.id)}/avatar${v}`, alt: '' });
  }
  const initial = [...displayName(user)][0] || '?';
  return h('span', { class: 'avatar', 'aria-hidden': 'true', text: initial.toUpperCase() });
}

export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** The local calendar day of a time, as a key ("" for a time that does not parse). */
export function dayKey(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toDateString();
}

/** "Today", "Yesterday", or the date (with its year when it is not this year's). */
export function dayLabel(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== today.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString([], opts);
}
