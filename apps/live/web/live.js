'use strict';
// The scopecast live page: /live/<room…>/<stream> plays <stream>.flv of the
// same path with mpegts.js (HTTP-FLV, or WebSocket-FLV with ?transport=ws),
// low-latency settings, and shows "offline" and starts again by itself when
// the publisher stops and comes back. Beside it, the chat of the room
// (ws://host/<app>/<room…>?so=chat, docs/websocket.md). User data is only
// ever rendered with textContent. ?key= or ?token= of the page's URL goes
// with both (access keys).
(() => {
  const $ = (id) => document.getElementById(id);
  const path = location.pathname.replace(/\/+$/, '');
  const cut = path.lastIndexOf('/');
  const room = path.slice(0, cut) || '/live';
  const streamName = decodeURIComponent(path.slice(cut + 1));
  const params = new URLSearchParams(location.search);
  const useWS = params.get('transport') === 'ws';
  const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  // An access key of the page's URL (?key= or ?token=) goes with the stream
  // and the chat: /live/cam1?key=x plays /live/cam1.flv?key=x.
  const access = new URLSearchParams();
  for (const k of ['key', 'token']) if (params.has(k)) access.set(k, params.get(k));
  const accessQS = access.toString();
  const flvURL = (useWS ? wsBase : location.origin) + path + '.flv' + (accessQS ? '?' + accessQS : '');
  $('stream').textContent = streamName;
  $('room').textContent = room;
  $('urls').textContent = flvURL;

  // ---- the player ----------------------------------------------------------
  const video = $('video');
  const live = { state: 'connecting', starts: 0, errors: 0 }; // read by tests
  window.scopecastLive = live;
  let player = null, retry = null, lastTime = -1, stalledSince = 0;

  function setState(s, text) {
    live.state = s;
    const el = $('status');
    el.textContent = text || s;
    el.className = 'status ' + s;
  }

  function stop() {
    if (!player) return;
    const p = player;
    player = null;
    try { p.pause(); p.unload(); p.detachMediaElement(); p.destroy(); } catch (e) { console.warn(e); }
  }

  // restart shows "offline" and starts a new player: the request waits on the
  // server until the publisher is back.
  function restart(why, delay) {
    stop();
    setState('offline', 'offline');
    if (why) console.info('player:', why);
    clearTimeout(retry);
    retry = setTimeout(start, delay);
  }

  function start() {
    retry = null;
    if (!window.mpegts || !mpegts.isSupported()) {
      setState('offline', 'this browser cannot play (no Media Source Extensions)');
      return;
    }
    live.starts++;
    lastTime = -1;
    stalledSince = 0;
    player = mpegts.createPlayer({ type: 'flv', isLive: true, url: flvURL }, {
      enableWorker: false,
      enableStashBuffer: false, // hand data to the decoder as it comes
      stashInitialSize: 64 * 1024,
      lazyLoad: false,
      autoCleanupSourceBuffer: true,
      autoCleanupMaxBackwardDuration: 30,
      autoCleanupMinBackwardDuration: 10,
      liveBufferLatencyChasing: true, // jump forward when more than 0.9 s behind what it holds
      liveBufferLatencyMaxLatency: 0.9,
      liveBufferLatencyMinRemain: 0.2,
      liveSync: true, // and play a little faster when drifting behind
      liveSyncMaxLatency: 0.5,
      liveSyncTargetLatency: 0.25,
      liveSyncPlaybackRate: 1.2,
    });
    const p = player;
    p.on(mpegts.Events.ERROR, (type, detail) => {
      if (p !== player) return;
      live.errors++;
      restart('error ' + type + ' ' + detail, 1000);
    });
    p.on(mpegts.Events.LOADING_COMPLETE, () => {
      if (p === player) restart('the stream ended', 500);
    });
    p.attachMediaElement(video);
    p.load();
    const pr = p.play();
    if (pr && pr.catch) pr.catch(() => {}); // autoplay of a muted video is allowed; the controls remain
    setState('offline', 'waiting for the stream…');
  }

  video.addEventListener('playing', () => { if (player) setState('live', 'live'); });

  // A picture that stops moving for 5 s (a publisher gone without a word):
  // start again.
  setInterval(() => {
    if (!player || live.state !== 'live' || video.paused) return;
    if (video.currentTime !== lastTime) {
      lastTime = video.currentTime;
      stalledSince = 0;
      return;
    }
    if (!stalledSince) stalledSince = Date.now();
    else if (Date.now() - stalledSince > 5000) restart('stalled', 0);
  }, 1000);

  start();

  // ---- the chat ------------------------------------------------------------
  let name = params.get('name') || localStorage.getItem('scopecast.name') || 'guest-' + Math.floor(Math.random() * 10000);
  $('name').value = name;
  let ws = null, me = '', attempts = 0, timer = null;
  const pending = [];
  const USER = 'user.';
  let users = {};

  function chatStatus(text) { $('chatstatus').textContent = text; }

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
  function chatLine(v, fallbackFrom) {
    if (v === null || v === undefined) return;
    if (typeof v === 'object') line(String(v.from ?? fallbackFrom ?? '?'), String(v.text ?? v.data ?? ''), '');
    else line(String(fallbackFrom ?? '?'), String(v), '');
  }
  function showUsers() {
    const ul = $('users');
    ul.replaceChildren();
    const list = Object.entries(users).map(([id, u]) => ({ id, name: String((u && u.name) ?? id) }));
    list.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    for (const u of list) {
      const li = document.createElement('li');
      li.textContent = u.name + (u.id === me ? ' (you)' : '');
      ul.appendChild(li);
    }
  }
  function setUser(key, v) {
    if (v && typeof v === 'object') users[key.slice(USER.length)] = v;
    else delete users[key.slice(USER.length)];
    showUsers();
  }
  function who(origin) { const u = users[origin]; return u && u.name ? String(u.name) : origin || 'server'; }

  function onFrame(f) {
    switch (f.type) {
      case 'welcome':
        me = f.id; attempts = 0;
        chatStatus('connected as ' + f.name);
        break;
      case 'snapshot':
        users = {};
        for (const [k, v] of Object.entries(f.data || {})) if (k.startsWith(USER) && v && typeof v === 'object') users[k.slice(USER.length)] = v;
        showUsers();
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
      case 'message':
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
    chatStatus('connecting…');
    ws = new WebSocket(wsBase + room + '?so=chat&name=' + encodeURIComponent(name) + (accessQS ? '&' + accessQS : ''), 'chat');
    ws.onmessage = (e) => { try { onFrame(JSON.parse(e.data)); } catch (err) { console.error(err); } };
    ws.onclose = (e) => {
      ws = null;
      pending.length = 0;
      if (e.code === 4400 || e.code === 4403 || e.code === 4404) {
        chatStatus('closed: ' + (e.reason || e.code));
        return;
      }
      const delay = Math.min(30000, 500 * 2 ** attempts) * (0.75 + Math.random() / 2);
      attempts++;
      chatStatus('disconnected, retrying in ' + Math.round(delay / 1000) + ' s');
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
})();
