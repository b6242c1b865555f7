// The Node.js peer of benches/fanout.rs: a websocket server built on the `ws` package that
// broadcasts one ~2 KB text message to every connected client when its control endpoint
// `POST /publish?n=NONCE` is hit. The message has the same shape and size as duban's
// `update` (see docs/websocket.md), it is encoded once, and the same buffer is handed to
// every client (`ws` frames it without copying the payload).
//
// Usage: node server.js PAD_LENGTH   (prints `ws=PORT control=PORT` once listening)
'use strict';

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const pad = 'x'.repeat(Number(process.argv[2] || 1900));
const dataTime = '2026-11-25T20:00:00+08:00';
// Like duban, seq starts at the start-up time in ms (the same number of digits).
let seq = Date.now();

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  maxPayload: 4096,
  clientTracking: true,
});

wss.on('connection', (socket) => {
  socket.on('error', () => {});
  socket.on('message', () => {});
  socket.send(JSON.stringify({ type: 'hello', server_time: dataTime, heartbeat_seconds: 20, screen: null }));
  socket.send(JSON.stringify({ type: 'snapshot', seq, data_time: dataTime, feeds: [], panels: {} }));
});

const control = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (req.method !== 'POST' || url.pathname !== '/publish') {
    res.writeHead(404).end();
    return;
  }
  const n = Number(url.searchParams.get('n'));
  seq += 1;
  const text = `{"type":"update","seq":${seq},"data_time":"${dataTime}","feeds":[],"panels":{"bench":{"n":${n},"pad":"${pad}"}}}`;
  const data = Buffer.from(text);
  let sent = 0;
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN) {
      client.send(data, { binary: false });
      sent += 1;
    }
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ seq, sent }));
});

let listening = 0;
function ready() {
  listening += 1;
  if (listening === 2) {
    console.log(`ws=${wss.address().port} control=${control.address().port}`);
  }
}
wss.on('listening', ready);
control.listen(0, '127.0.0.1', ready);

// Ends when the bench closes our stdin (or dies).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
