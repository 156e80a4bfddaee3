'use strict';
// The scopecast live page: /live/<room…>/<stream> plays <stream>.flv of the
// same path with mpegts.js (HTTP-FLV, or WebSocket-FLV with ?transport=ws),
// low-latency settings, and shows "offline" and starts again by itself when
// the publisher stops and comes back. Beside it, the chat of the room
// (ws://host/<app>/<room…>?so=chat, docs/websocket.md), apps/chat's client.
// User data is only ever rendered with textContent. ?key= or ?token= of the
// page's URL goes with both (access keys).
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

  // ---- the chat (apps/chat's client.js, inlined before this) --------------
  scopecastChat({ room, query: accessQS, status: (text) => { $('chatstatus').textContent = text; } });
})();
