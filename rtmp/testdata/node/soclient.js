// A shared-object client on the npm package rtmp-client (a third-party AMF0
// implementation), driven by the Go integration tests of rtmp and wsbridge.
//
//   node soclient.js rtmp://host:port/app/room soName [name]
//
// name, when given, is passed as connect's first parameter (the chat app's
// user name).
//
// stdin, one JSON command per line:
//   {"op":"set","key":"k","value":v}   so.setProperty(k, v)   (null removes)
//   {"op":"clear"}                     so.clear()
//   {"op":"exit"}
// stdout, one JSON event per line:
//   {"ev":"connected"}; {"ev":"nc","code":…} for other connection statuses;
//   {"ev":"status","code":…,"level":…}; {"ev":"error","msg":…};
//   for every sync: one {"ev":"change","key":k,"value":v}, {"ev":"delete","key":k}
//   or {"ev":"clear"} per change in it, {"ev":"synced"} after the first, and
//   {"ev":"sync","list":[…],"props":{…}} with the whole local copy.
'use strict';
const readline = require('readline');
const { NetConnection, SharedObject } = require('rtmp-client');

const [url, soName, name] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const nc = new NetConnection();
let so = null;
let synced = false;
nc.onStatus = (info) => {
  if (info.code !== 'NetConnection.Connect.Success') {
    out({ ev: 'nc', code: info.code, description: info.description });
    return;
  }
  so = SharedObject.get(soName, false, nc);
  so.onStatus = (s) => out({ ev: 'status', code: s.code, level: s.level });
  so.onSync = (list) => {
    for (const c of list) {
      switch (c.code) {
        case 'change': out({ ev: 'change', key: c.name, value: c.newValue }); break;
        case 'delete': out({ ev: 'delete', key: c.name }); break;
        case 'clear': out({ ev: 'clear' }); break;
      }
    }
    if (!synced) { synced = true; out({ ev: 'synced' }); }
    const props = {};
    for (const k of so.getPropertyNames()) props[k] = so.getProperty(k);
    out({ ev: 'sync', list, props });
  };
  out({ ev: 'connected' });
};
process.on('uncaughtException', (e) => { out({ ev: 'error', msg: String(e && e.message || e) }); process.exit(2); });

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  switch (cmd.op) {
    case 'set': so.setProperty(cmd.key, cmd.value === undefined ? null : cmd.value); break;
    case 'clear': so.clear(); break;
    case 'exit': process.exit(0);
  }
}).on('close', () => process.exit(0));

if (name) nc.connect(url, name); else nc.connect(url);
