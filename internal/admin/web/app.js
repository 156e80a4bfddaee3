// scopecast status page: polls /api/overview every second and redraws.
// Every piece of server data reaches the page through textContent or an
// attribute, never as HTML.
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtBits(bps) {
  if (!bps) return '0 bit/s';
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let i = 0;
  while (bps >= 1000 && i < units.length - 1) { bps /= 1000; i++; }
  return bps.toFixed(bps < 10 && i > 0 ? 1 : 0) + ' ' + units[i];
}

function fmtBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return n.toFixed(i ? 1 : 0) + ' ' + units[i];
}

// sparkline draws the bitrate history as an inline SVG line over a filled area.
function sparkline(values, width, height) {
  const svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  if (values.length === 0) return svg;
  if (values.length === 1) values = [values[0], values[0]];
  const n = values.length;
  const top = Math.max(...values, 1);
  const pts = values.map((v, i) => {
    const x = i * width / (n - 1);
    const y = height - 1 - (v / top) * (height - 3);
    return x.toFixed(1) + ',' + y.toFixed(1);
  }).join(' ');
  const area = document.createElementNS(SVGNS, 'polygon');
  area.setAttribute('points', '0,' + height + ' ' + pts + ' ' + width + ',' + height);
  svg.appendChild(area);
  const line = document.createElementNS(SVGNS, 'polyline');
  line.setAttribute('points', pts);
  svg.appendChild(line);
  return svg;
}

function drawCounts(ov) {
  const box = document.getElementById('counts');
  box.replaceChildren();
  const add = (label, value) => {
    const c = el('div', 'count');
    c.dataset.label = label;
    c.appendChild(el('b', '', String(value)));
    c.appendChild(el('span', '', label));
    box.appendChild(c);
  };
  add('clients', ov.clients);
  for (const p of Object.keys(ov.protocols).sort()) add(p, ov.protocols[p]);
  add('streams', ov.streams.filter(s => s.publishing).length);
  add('players', ov.streams.reduce((a, s) => a + s.players, 0));
  add('recordings', ov.recordings);
}

function drawTree(nodes, ul) {
  for (const n of nodes) {
    const li = el('li');
    li.dataset.path = n.path;
    li.appendChild(el('span', 'scope', n.name));
    const parts = [n.connections + (n.connections === 1 ? ' client' : ' clients')];
    if (n.shared_objects.length) parts.push(n.shared_objects.length + ' SO');
    li.appendChild(el('span', 'meta', parts.join(' · ')));
    for (const s of n.streams) {
      if (s.publishing) li.appendChild(el('span', 'live', '● ' + s.name));
    }
    if (n.children.length) {
      const sub = el('ul');
      drawTree(n.children, sub);
      li.appendChild(sub);
    }
    ul.appendChild(li);
  }
}

function drawStreams(ov) {
  const body = document.querySelector('#streams tbody');
  body.replaceChildren();
  document.getElementById('nostreams').hidden = ov.streams.length > 0;
  for (const s of ov.streams) {
    const tr = el('tr');
    tr.dataset.stream = s.scope + '/' + s.name;
    tr.appendChild(el('td', 'name', s.scope + '/' + s.name + (s.publishing ? '' : ' (waiting)')));
    const m = s.metadata || {};
    let video = s.video_codec;
    if (video && Number.isFinite(m.width) && Number.isFinite(m.height) && m.width > 0) video += ' ' + m.width + '×' + m.height;
    tr.appendChild(el('td', 'codecs', [video, s.audio_codec].filter(Boolean).join(' + ') || '–'));
    tr.appendChild(el('td', 'num bitrate', fmtBits(s.bitrate_bps)));
    const spark = el('td', 'spark');
    spark.appendChild(sparkline(s.history_bps, 120, 28));
    tr.appendChild(spark);
    tr.appendChild(el('td', 'num players', String(s.players)));
    tr.appendChild(el('td', '', s.publisher ? s.publisher.protocol + ' ' + s.publisher.address : '–'));
    tr.appendChild(el('td', s.recording ? 'rec' : '', s.recording ? '● ' + fmtBytes(s.recording.bytes) : '–'));
    body.appendChild(tr);
  }
}

async function poll() {
  const state = document.getElementById('state');
  try {
    const r = await fetch('/api/overview', { cache: 'no-store' });
    if (!r.ok) throw new Error(r.status + ' ' + r.statusText);
    const ov = await r.json();
    drawCounts(ov);
    const tree = document.getElementById('tree');
    tree.replaceChildren();
    drawTree(ov.scopes, tree);
    drawStreams(ov);
    state.textContent = 'live · updated ' + new Date(ov.time).toLocaleTimeString();
    state.classList.remove('down');
  } catch (e) {
    state.textContent = 'server unreachable (' + e.message + '), retrying';
    state.classList.add('down');
  }
  setTimeout(poll, 1000);
}

poll();
