#pragma once
// The Lua scripts the Redis broker runs. Each is one atomic step on the Redis that owns the
// channel: no other command interleaves, so offsets, history and publish order agree on every
// node. Keys per channel (P is the configured prefix, {c} the channel name):
//   P:{c}:m  hash    e = epoch, o = last offset   (expires meta_ttl after the last publication)
//   P:{c}:h  stream  one entry per message, id "<offset>-0", fields t (ms), d (JSON data) and,
//                    when the publisher is named, f (its `from`, a JSON object) and, when it
//                    has tags, g (core/tags.hpp's encoding)
//   P:{c}:u  hash    presence: client id -> "<node>\n<user>\n<info>"
// and per node: P:nodes (sorted set, score = last heartbeat in Redis ms), P:node:<id> (hash:
// info), P:node:<id>:ch (set: channels where the node has presence members, on each Redis).
// Pub/sub: P.c.<channel> carries messages whose first byte is their kind (below), P.ctl the
// questions every node hears and P.ctl.<node> the answers to one node's questions.
#include <string_view>

namespace sb::broker {

// The kinds of message on a channel's topic.
// "P<epoch>\n<offset>\n<ts>\n<data>": a publication, sent by the publish script below (which
// spells the 'P' itself).
inline constexpr char kind_publication = 'P';
// "F<epoch>\n<offset>\n<ts>\n<length of from>\n<from><data>": a publication with its publisher's
// `from` (core::Publication::from), which may hold newlines; also spelled by the publish script.
// A publication without one keeps the 'P' form, byte for byte as before.
inline constexpr char kind_publication_from = 'F';
// "T<epoch>\n<offset>\n<ts>\n<length of from>\n<length of tags>\n<from><tags><data>": a
// publication with tags (core::Publication::tags, which hold NUL bytes), with or without `from`.
inline constexpr char kind_publication_tags = 'T';
// "R<node>\n<stream>\n<seq>\n<frame>": a frame relayed from a node (join, leave, typing, stream).
inline constexpr char kind_relay = 'R';
// "M<node>\n<epoch>\n<offset>": a node's sync marker after a reconnection, for that node only.
inline constexpr char kind_sync_marker = 'M';
// The kinds of message on the control topics.
// "Q<id>\n<origin node>\n<question>\n<argument>": a question to every node.
inline constexpr char kind_question = 'Q';
// "A<id>\n<node>\n<answer>": one node's answer, on the asking node's topic.
inline constexpr char kind_answer = 'A';

}  // namespace sb::broker

namespace sb::broker::scripts {

// KEYS: meta, history. ARGV: new epoch, ts, data, history size, history ttl (s), meta ttl (s),
// pub/sub channel, from (empty: none), tags (empty: none). Returns {offset, epoch}.
inline constexpr std::string_view publish = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  -- A channel starting (again) from nothing: whatever history a lost epoch left is void.
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
  redis.call('DEL', KEYS[2])
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
local size = tonumber(ARGV[4])
if size > 0 then
  local entry = {'XADD', KEYS[2], 'MAXLEN', size, offset .. '-0', 't', ARGV[2], 'd', ARGV[3]}
  if ARGV[8] ~= '' then
    entry[#entry + 1] = 'f'
    entry[#entry + 1] = ARGV[8]
  end
  if ARGV[9] ~= '' then
    entry[#entry + 1] = 'g'
    entry[#entry + 1] = ARGV[9]
  end
  redis.call(unpack(entry))
  local ttl = tonumber(ARGV[5])
  if ttl > 0 then
    -- Drop what outlived the TTL from the head: usually one look at the oldest entry, and at
    -- most a few deletions per publication (each message is deleted once).
    local cutoff = tonumber(ARGV[2]) - ttl * 1000
    for _ = 1, 8 do
      local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
      if not head or tonumber(head[2][2]) >= cutoff then break end
      redis.call('XDEL', KEYS[2], head[1])
    end
    redis.call('EXPIRE', KEYS[2], ttl)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
if ARGV[9] ~= '' then
  redis.call('PUBLISH', ARGV[7], 'T' .. epoch .. '\n' .. offset .. '\n' .. ARGV[2] .. '\n' .. #ARGV[8] .. '\n' ..
             #ARGV[9] .. '\n' .. ARGV[8] .. ARGV[9] .. ARGV[3])
elseif ARGV[8] == '' then
  redis.call('PUBLISH', ARGV[7], 'P' .. epoch .. '\n' .. offset .. '\n' .. ARGV[2] .. '\n' .. ARGV[3])
else
  redis.call('PUBLISH', ARGV[7], 'F' .. epoch .. '\n' .. offset .. '\n' .. ARGV[2] .. '\n' .. #ARGV[8] .. '\n' ..
             ARGV[8] .. ARGV[3])
end
return {offset, epoch}
)lua";

// KEYS: meta, history. ARGV: new epoch, meta ttl, "1" to create. Returns {offset, epoch}. With
// create (a node starting to watch the channel), a channel never seen gets its epoch now, so every
// node that asks agrees on it; without (a history read), nothing is written.
inline constexpr std::string_view position = R"lua(
local v = redis.call('HMGET', KEYS[1], 'e', 'o')
if not v[1] then
  if ARGV[3] ~= '1' then return {0, ARGV[1]} end
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'o', 0)
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
  return {0, ARGV[1]}
end
return {tonumber(v[2]) or 0, v[1]}
)lua";

// KEYS: nodes, this node's hash. ARGV: node id, info, node timeout (ms). Records the heartbeat
// and claims the nodes whose heartbeat is older than the timeout: they are removed here, so
// exactly one node (the one whose script removed them) cleans up after each.
inline constexpr std::string_view heartbeat = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], 'info', ARGV[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 4)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
for _, id in ipairs(dead) do redis.call('ZREM', KEYS[1], id) end
return dead
)lua";

// KEYS: nodes, the node's channel set, the channel's presence hash. ARGV: node id, channel,
// client, member value. The node is registered if it is not (yet, or any more): a member is
// never added by a node that others could not find dead.
inline constexpr std::string_view presence_add = R"lua(
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
end
redis.call('SADD', KEYS[2], ARGV[2])
return redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
)lua";

// KEYS: nodes. ARGV: node timeout (ms), key prefix. Returns {id, last heartbeat ms, info, ...}
// for the live nodes.
inline constexpr std::string_view nodes = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  table.insert(out, live[i])
  table.insert(out, live[i + 1])
  table.insert(out, redis.call('HGET', ARGV[2] .. ':node:' .. live[i], 'info') or '{}')
end
return out
)lua";

// KEYS: the node's channel set. ARGV: node id, key prefix. Removes the node's presence members
// from every channel it had some in; returns {channel, client, value, ...} of those removed.
inline constexpr std::string_view forget_node = R"lua(
local out = {}
local mark = ARGV[1] .. '\n'
for _, ch in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. ':{' .. ch .. '}:u'
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i + 1], 1, #mark) == mark then
      redis.call('HDEL', key, all[i])
      table.insert(out, ch)
      table.insert(out, all[i])
      table.insert(out, all[i + 1])
    end
  end
end
redis.call('DEL', KEYS[1])
return out
)lua";

}  // namespace sb::broker::scripts
