'use strict';
// The scopecast chat client, shared by the chat page (apps/chat) and the live
// page, beside its player (apps/live): scopecastChat joins the shared object
// "chat" of a room over WebSocket (docs/websocket.md), shows who is there and
// the messages, sends the form's text, renames, and reconnects with back-off.
// User data is only ever rendered with textContent. It uses the page's
// elements #log, #users, #form, #msg, #nameform and #name.
//
// opts.room is the room's scope path ("/chat/lobby"); opts.query, extra URL
// parameters for the WebSocket (access keys); opts.status(text) shows the
// connection's state; opts.protocols shows each user's protocol.
function scopecastChat(opts) {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let name = params.get('name') || localStorage.getItem('scopecast.name') || 'guest-' + Math.floor(Math.random() * 10000);
  $('name').value = name;

  let ws = null, me = '', attempts = 0, timer = null;
  const pending = []; // texts sent, waiting for their ack
  const status = opts.status;

  function line(from, text, cls) {
    const li = document.createElement('li');
    if (cls) li.className = cls;
    if (from !== null) {
      const b = document.createElement('span');
      b.className = 'from';
      b.textContent = from;
      li.appendChild(b);
    }
    li.appendChild(document.createTextNode(text));
    const log = $('log');
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 5;
    log.appendChild(li);
    while (log.children.length > 500) log.removeChild(log.firstChild);
    if (atEnd) log.scrollTop = log.scrollHeight;
  }
  function note(text) { line(null, text, 'note'); }

  // chatLine renders a chat message value: {from, text} or a plain string.
  function chatLine(v, fallbackFrom) {
    if (v === null || v === undefined) return;
    if (typeof v === 'object') line(String(v.from ?? fallbackFrom ?? '?'), String(v.text ?? v.data ?? ''), '');
    else line(String(fallbackFrom ?? '?'), String(v), '');
  }

  // Presence: one attribute per connection, "user.<id>" = {name, protocol}.
  const USER = 'user.';
  let users = {};
  function setUser(key, v) {
    if (v && typeof v === 'object') users[key.slice(USER.length)] = v;
    else delete users[key.slice(USER.length)];
    showUsers();
  }
  function showUsers() {
    const ul = $('users');
    ul.replaceChildren();
    const list = Object.entries(users).map(([id, u]) => ({ id, name: String((u && u.name) ?? id), proto: String((u && u.protocol) ?? '') }));
    list.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    for (const u of list) {
      const li = document.createElement('li');
      li.textContent = u.name + (u.id === me ? ' (you)' : '');
      if (opts.protocols) {
        const p = document.createElement('span');
        p.className = 'proto';
        p.textContent = u.proto;
        li.appendChild(p);
      }
      ul.appendChild(li);
    }
  }
  function who(origin) { const u = users[origin]; return u && u.name ? String(u.name) : origin || 'server'; }

  function onFrame(f) {
    switch (f.type) {
      case 'welcome':
        me = f.id; attempts = 0;
        status('connected as ' + f.name);
        break;
      case 'snapshot':
        users = {};
        for (const [k, v] of Object.entries(f.data || {})) if (k.startsWith(USER) && v && typeof v === 'object') users[k.slice(USER.length)] = v;
        showUsers();
        if (f.data && f.data.message !== undefined) { note('last message:'); chatLine(f.data.message); }
        break;
      case 'change':
        if (String(f.key).startsWith(USER)) setUser(f.key, f.value);
        else if (f.key === 'message') chatLine(f.value, who(f.origin));
        break;
      case 'remove':
        if (String(f.key).startsWith(USER)) setUser(f.key, null);
        break;
      case 'clear':
        users = {};
        showUsers();
        break;
      case 'message': // a send from an RTMP client: onChatMessage(text | {from, text})
        if (f.handler === 'onChatMessage') chatLine(f.args[0], who(f.origin));
        break;
      case 'ack':
        if (f.op === 'set' && f.key === 'message' && pending.length) line(name, pending.shift(), 'mine');
        break;
      case 'error':
        note('error: ' + f.code + (f.message ? ' (' + f.message + ')' : ''));
        break;
    }
  }

  function connect() {
    timer = null;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + opts.room +
      '?so=chat&name=' + encodeURIComponent(name) + (opts.query ? '&' + opts.query : '');
    status('connecting…');
    ws = new WebSocket(url, 'chat');
    ws.onmessage = (e) => { try { onFrame(JSON.parse(e.data)); } catch (err) { console.error(err); } };
    ws.onclose = (e) => {
      ws = null;
      pending.length = 0;
      // 4400, 4403, 4404: the room refuses us; reconnecting would not help.
      if (e.code === 4400 || e.code === 4403 || e.code === 4404) {
        status('closed: ' + (e.reason || e.code));
        return;
      }
      const delay = Math.min(30000, 500 * 2 ** attempts) * (0.75 + Math.random() / 2);
      attempts++;
      status('disconnected (' + (e.reason || e.code) + '), retrying in ' + Math.round(delay / 1000) + ' s');
      timer = setTimeout(connect, delay);
    };
  }

  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('msg').value.trim();
    if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
    pending.push(text);
    ws.send(JSON.stringify({ type: 'chat', text }));
    $('msg').value = '';
  });
  $('nameform').addEventListener('submit', (e) => {
    e.preventDefault();
    const n = $('name').value.trim();
    if (!n || n === name) return;
    name = n;
    localStorage.setItem('scopecast.name', name);
    if (ws) ws.close(1000, 'renaming'); else if (timer) { clearTimeout(timer); connect(); }
  });
  connect();
}
