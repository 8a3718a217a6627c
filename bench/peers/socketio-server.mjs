// Benchmark peer: a Socket.IO broadcast server, websocket transport only.
//   client event  "subscribe", channel [, ack]         -> socket.join(channel); ack({channel})
//   client event  "publish", {channel, data} [, ack]   -> io.to(channel).emit("message", {channel, data, offset, ts})
// `sb-loadgen --dialect socketio` speaks Engine.IO v4 / Socket.IO v5 packets over a raw websocket:
// GET /socket.io/?EIO=4&transport=websocket, "0{...}" open, "40" connect, "2"/"3" ping/pong,
// events as 42["event",...] and acks as 43<id>[...].
//
// Usage: node socketio-server.mjs [PORT]   (or PORT=... / HOST=... in the environment)
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? process.env.PORT ?? 8082);
const host = process.env.HOST ?? '127.0.0.1';

const httpServer = http.createServer();
const io = new Server(httpServer, {
  serveClient: false,
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  maxHttpBufferSize: 1 << 20,
});

const offsets = new Map(); // channel -> last offset

io.on('connection', (socket) => {
  socket.on('subscribe', (channel, ack) => {
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > 255) {
      if (typeof ack === 'function') ack({ error: 'bad_channel' });
      return;
    }
    socket.join(channel);
    if (typeof ack === 'function') ack({ channel });
  });
  socket.on('unsubscribe', (channel, ack) => {
    socket.leave(channel);
    if (typeof ack === 'function') ack({ channel });
  });
  socket.on('publish', (msg, ack) => {
    const channel = msg?.channel;
    if (typeof channel !== 'string' || channel.length === 0) {
      if (typeof ack === 'function') ack({ error: 'bad_channel' });
      return;
    }
    const offset = (offsets.get(channel) ?? 0) + 1;
    offsets.set(channel, offset);
    // The adapter encodes the packet once and writes it to every socket in the room.
    io.to(channel).emit('message', { channel, data: msg.data, offset, ts: Date.now() });
    if (typeof ack === 'function') ack({ channel, offset });
  });
});

httpServer.listen(port, host, () => {
  console.error(`socketio-server listening on ${host}:${port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    io.disconnectSockets(true);
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  });
}
