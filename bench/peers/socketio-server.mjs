// Benchmark peer: a Socket.IO broadcast server, websocket transport only.
//   client event  "subscribe", channel [, ack]         -> socket.join(channel); ack({channel})
//   client event  "publish", {channel, data} [, ack]   -> io.to(channel).emit("message", {channel, data, offset, ts})
// `sb-loadgen --dialect socketio` speaks Engine.IO v4 / Socket.IO v5 packets over a raw websocket:
// GET /socket.io/?EIO=4&transport=websocket, "0{...}" open, "40" connect, "2"/"3" ping/pong,
// events as 42["event",...] and acks as 43<id>[...].
//
// With --redis URL the server joins a cluster through the Socket.IO Redis adapter
// (@socket.io/redis-adapter on the `redis` client): every room broadcast is also published
// to Redis, and every node emits what it receives from Redis to its own sockets in the room.
// That is how Socket.IO is scaled out to several processes, and the peer of the benchmark's
// cluster scenario. Offsets stay per process (the load generator does not use them).
//
// Usage: node socketio-server.mjs [PORT] [--redis redis://HOST:PORT]
//        (or PORT=... / HOST=... / REDIS_URL=... in the environment)
import http from 'node:http';
import { Server } from 'socket.io';

const args = process.argv.slice(2);
let redisUrl = process.env.REDIS_URL ?? '';
const ri = args.indexOf('--redis');
if (ri >= 0) {
  redisUrl = args[ri + 1] ?? '';
  args.splice(ri, 2);
}
const port = Number(args[0] ?? process.env.PORT ?? 8082);
const host = process.env.HOST ?? '127.0.0.1';

const httpServer = http.createServer();
const io = new Server(httpServer, {
  serveClient: false,
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  maxHttpBufferSize: 1 << 20,
});

// The adapter must be in place before the first connection: the modules are loaded only
// in cluster mode, so that the single-node peer runs exactly as before.
let shuttingDown = false;
if (redisUrl) {
  const { createClient } = await import('redis');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) {
    // Losing Redis means losing the other node's deliveries: fail loudly rather than
    // reconnect quietly in the middle of a measurement.
    c.on('error', (err) => {
      if (shuttingDown) return;
      console.error(`socketio-server: redis: ${err.message}`);
      process.exit(1);
    });
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

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
  console.error(`socketio-server listening on ${host}:${port}${redisUrl ? ` (redis adapter: ${redisUrl})` : ''}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    // The Redis connections end with the process: disconnecting them first would reject
    // the adapter's pending commands, and those rejections would crash the exit.
    shuttingDown = true;
    io.disconnectSockets(true);
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  });
}
