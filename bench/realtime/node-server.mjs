// The Node-only side of realtime.mjs: a socket.io 4 server (WebSocket
// transport) that puts every socket in room "fan", answers "work" events with
// an ack, and takes commands from the parent over IPC.
import { createServer } from 'node:http';

import { Server } from 'socket.io';

const httpServer = createServer();
const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  socket.join('fan');
  socket.on('work', (payload, callback) => callback?.({ ok: true, n: payload?.n }));
});

httpServer.listen(0, '127.0.0.1', () => {
  process.send({ type: 'listening', port: httpServer.address().port });
});

process.on('message', (message) => {
  if (message.type === 'emit') {
    io.to('fan').emit('tick', { ts: Date.now(), seq: message.seq });
  } else if (message.type === 'memory') {
    globalThis.gc?.();
    process.send({ type: 'memory', rss: process.memoryUsage().rss });
  } else if (message.type === 'close') {
    io.close();
    process.exit(0);
  }
});
