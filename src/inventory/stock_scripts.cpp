#include "inventory/stock_scripts.hpp"

#include <charconv>
#include <string>
#include <string_view>

namespace fs::inventory {

const redis::Script& check_and_decr_script() {
  static const redis::Script s{R"LUA(
local qty = tonumber(ARGV[1])
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
if stock < qty then return -1 end
return redis.call('DECRBY', KEYS[1], qty)
)LUA"};
  return s;
}

namespace {

// What reserve and reserve_batch share: the terms' parser and one click's take (the per-user
// limit, the shard walk, the decrement and the hold), once the pause and the gate are checked.
constexpr std::string_view kReserveTake = R"LUA(
local function terms_of(t)
  return string.match(t, '^(%d+):(%d+):([01]):(%d+):(%d+)$')
end
local function take(users, base, q, l, f, c, id, user, now)
  local qty = tonumber(q)
  local held = tonumber(redis.call('HGET', users, user) or '0')
  if held + qty > tonumber(l) then return 0, 'limit' end
  local first = tonumber(f)
  local n = tonumber(c)
  for i = 0, n - 1 do
    local shard = (first + i) % n
    local key = base .. ':stock:' .. shard
    local stock = tonumber(redis.call('GET', key) or '0')
    if stock >= qty then
      redis.call('DECRBY', key, qty)
      redis.call('HINCRBY', users, user, qty)
      redis.call('HSET', base .. ':holds', id, 'h|' .. shard .. '|' .. qty .. '|' .. user .. '|' .. now)
      redis.call('ZADD', base .. ':unsettled', now, id)
      return 1, shard
    end
  end
  return 0, 'sold_out'
end
)LUA";

}  // namespace

const redis::Script& reserve_script() {
  // The sale's other keys are derived from KEYS[1] (<base>:users), and the click's numbers
  // travel as one "terms" argument: every argument costs the client a bulk string formatted by
  // hiredis (~550 instructions each) and Redis a parsed one, so the walk is not spelled out.
  static const redis::Script s{std::string(kReserveTake) + R"LUA(
local users = KEYS[1]
local base = string.sub(users, 1, -7)
local q, l, gated, f, c = terms_of(ARGV[1])
if not q then return redis.error_reply('ERR reserve: malformed terms') end
if redis.call('EXISTS', base .. ':paused') == 1 then return {0, 'paused'} end
if gated == '1' and redis.call('EXISTS', base .. ':gate') == 0 then return {0, 'paused'} end
local taken, detail = take(users, base, q, l, f, c, ARGV[2], ARGV[3], ARGV[4])
return {taken, detail}
)LUA"};
  return s;
}

const redis::Script& reserve_batch_script() {
  // Every item's terms are checked before any key is touched; the pause and the gate are read
  // once for the whole batch (nothing else runs meanwhile), then each item is taken in order.
  static const redis::Script s{std::string(kReserveTake) + R"LUA(
local users = KEYS[1]
local base = string.sub(users, 1, -7)
if #ARGV == 0 or #ARGV % 4 ~= 0 then return redis.error_reply('ERR reserve: malformed batch') end
local n = #ARGV / 4
local terms = {}
local any_gated = false
for i = 1, n do
  local q, l, gated, f, c = terms_of(ARGV[4 * i - 3])
  if not q then return redis.error_reply('ERR reserve: malformed terms') end
  terms[i] = {q, l, gated, f, c}
  if gated == '1' then any_gated = true end
end
local paused = redis.call('EXISTS', base .. ':paused') == 1
local gate_shut = any_gated and redis.call('EXISTS', base .. ':gate') == 0
local out = {}
for i = 1, n do
  local t = terms[i]
  if paused or (gate_shut and t[3] == '1') then
    out[2 * i - 1] = 0
    out[2 * i] = 'paused'
  else
    out[2 * i - 1], out[2 * i] =
      take(users, base, t[1], t[2], t[4], t[5], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i])
  end
end
return out
)LUA"};
  return s;
}

std::size_t reserve_terms(char* out, std::int64_t quantity, std::int64_t per_user_limit, bool gated,
                          std::int64_t first_shard, std::int64_t shards) {
  char* at = out;
  char* const end = out + kReserveTermsMax;
  at = std::to_chars(at, end, quantity).ptr;
  *at++ = ':';
  at = std::to_chars(at, end, per_user_limit).ptr;
  *at++ = ':';
  *at++ = gated ? '1' : '0';
  *at++ = ':';
  at = std::to_chars(at, end, first_shard).ptr;
  *at++ = ':';
  at = std::to_chars(at, end, shards).ptr;
  return static_cast<std::size_t>(at - out);
}

const redis::Script& release_script() {
  static const redis::Script s{R"LUA(
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', string.sub(KEYS[2], 1, -7) .. ':unsettled', ARGV[1])
local qty = tonumber(ARGV[3])
redis.call('INCRBY', KEYS[3], qty)
if redis.call('HINCRBY', KEYS[1], ARGV[2], -qty) <= 0 then redis.call('HDEL', KEYS[1], ARGV[2]) end
return 1
)LUA"};
  return s;
}

const redis::Script& commit_hold_script() {
  static const redis::Script s{R"LUA(
redis.call('ZREM', string.sub(KEYS[1], 1, -7) .. ':unsettled', unpack(ARGV))
local marked = 0
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    redis.call('HSET', KEYS[1], ARGV[i], 'c' .. string.sub(v, 2))
    marked = marked + 1
  end
end
return marked
)LUA"};
  return s;
}

const redis::Script& consume_hold_script() {
  static const redis::Script s{R"LUA(
redis.call('ZREM', string.sub(KEYS[1], 1, -7) .. ':unsettled', ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
)LUA"};
  return s;
}

const redis::Script& unsettled_holds_script() {
  // KEYS: holds, unsettled. ARGV: taken at or before (ms), at most this many. Entries whose hold
  // is gone or already committed are dropped from the index on the way.
  static const redis::Script s{R"LUA(
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[1], id)
  if v and string.sub(v, 1, 1) == 'h' then
    out[#out + 1] = id
    out[#out + 1] = v
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
)LUA"};
  return s;
}

const redis::Script& reconcile_script() {
  // replicate_commands(): effects replication, needed by set_repl before Redis 7 (a no-op since).
  static const redis::Script s{R"LUA(
redis.replicate_commands()
local n = tonumber(ARGV[1])
local unsettled = string.sub(KEYS[2], 1, -7) .. ':unsettled'
redis.call('DEL', KEYS[1], KEYS[2], unsettled)
for i = 1, n do redis.call('SET', KEYS[4 + i], ARGV[1 + i]) end
local at = n + 2
local users = tonumber(ARGV[at])
for i = 1, users do
  redis.call('HSET', KEYS[1], ARGV[at + 2 * i - 1], ARGV[at + 2 * i])
end
at = at + 2 * users + 1
while at < #ARGV do
  redis.call('HSET', KEYS[2], ARGV[at], ARGV[at + 1])
  if string.sub(ARGV[at + 1], 1, 1) == 'h' then
    redis.call('ZADD', unsettled, tonumber(string.match(ARGV[at + 1], '|(%-?%d+)$')), ARGV[at])
  end
  at = at + 2
end
redis.call('DEL', KEYS[3])
redis.set_repl(redis.REPL_NONE)
redis.call('SET', KEYS[4], '1')
return 1
)LUA"};
  return s;
}

const redis::Script& open_gate_script() {
  static const redis::Script s{R"LUA(
redis.replicate_commands()
redis.set_repl(redis.REPL_NONE)
redis.call('SET', KEYS[1], '1')
return 1
)LUA"};
  return s;
}

}  // namespace fs::inventory
