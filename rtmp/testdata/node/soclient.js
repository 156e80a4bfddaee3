// A shared-object client on the npm package rtmp-client (a third-party AMF0
// implementation), driven by the Go integration tests.
//
//   node soclient.js rtmp://host:port/app/room soName
//
// stdin, one JSON command per line:
//   {"op":"set","key":"k","value":v}   so.setProperty(k, v)   (null removes)
//   {"op":"clear"}                     so.clear()
//   {"op":"exit"}
// stdout, one JSON event per line:
//   {"ev":"connected"}, {"ev":"status","code":…}, {"ev":"sync","list":[…],"props":{…}}, {"ev":"error","msg":…}
'use strict';
const readline = require('readline');
const { NetConnection, SharedObject } = require('rtmp-client');

const [url, soName] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const nc = new NetConnection();
let so = null;
nc.onStatus = (info) => {
  out({ ev: 'nc', code: info.code, description: info.description });
  if (info.code === 'NetConnection.Connect.Success') {
    so = SharedObject.get(soName, false, nc);
    so.onStatus = (s) => out({ ev: 'status', code: s.code, level: s.level });
    so.onSync = (list) => {
      const props = {};
      for (const k of so.getPropertyNames()) props[k] = so.getProperty(k);
      out({ ev: 'sync', list, props });
    };
    out({ ev: 'connected' });
  }
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

nc.connect(url);
