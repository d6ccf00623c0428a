//! The Lua scripts that change a user's keys atomically. Each script's keys share one hash
//! tag (one slot), so each runs as one unit on a single node or in a cluster; the session keys
//! a script reaches through the user's index are in that same slot.
//!
//! Times are the Redis server's own clock (`TIME`), the clock that expires keys.

use std::sync::LazyLock;

use redis::Script;

/// Shared by every script: the server's time, when a session key expires, and how the
/// user's index is kept short.
macro_rules! with_prelude {
    ($body:literal) => {
        concat!(
            r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- A session key expires at its idle deadline; one already dead when written (a sign-in's
-- placeholder) is kept `grace` ms, so the sign-in can still make it live.
local function expiry(idle, grace, now)
  if tonumber(idle) > now then return idle end
  return string.format('%d', now + tonumber(grace))
end
-- Drops the ids of expired sessions and lets the index expire with its last session.
local function refresh_index(index, now)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', string.format('(%d', now))
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if #last == 0 then redis.call('DEL', index) else redis.call('PEXPIREAT', index, last[2]) end
end
",
            $body
        )
    };
}

/// KEYS: owner pointer. ARGV: user id, idle deadline, grace. Claims a session id: 1, or 0 if
/// it is taken.
pub(crate) static CLAIM_ID: LazyLock<Script> = LazyLock::new(|| {
    Script::new(with_prelude!(
        r"
local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', expiry(ARGV[2], ARGV[3], now_ms()))
if ok then return 1 end
return 0
"
    ))
});

/// KEYS: session, user index. ARGV: encoded session id, user id, active deadline, idle
/// deadline, grace, then attribute field/value pairs. 1, or 0 if the session exists.
pub(crate) static INSERT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(with_prelude!(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = now_ms()
redis.call('HSET', KEYS[1], 'user_id', ARGV[2], 'active_expires', ARGV[3], 'idle_expires', ARGV[4], unpack(ARGV, 6))
local at = expiry(ARGV[4], ARGV[5], now)
redis.call('PEXPIREAT', KEYS[1], at)
redis.call('ZADD', KEYS[2], at, ARGV[1])
refresh_index(KEYS[2], now)
return 1
"
    ))
});

/// KEYS: owner pointer. ARGV: new idle deadline, grace. The owner's user id (or nil), after
/// moving the pointer's expiry with the session's.
pub(crate) static OWNER_FOR_RENEWAL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(with_prelude!(
        r"
local user_id = redis.call('GET', KEYS[1])
if user_id then redis.call('PEXPIREAT', KEYS[1], expiry(ARGV[1], ARGV[2], now_ms())) end
return user_id
"
    ))
});

/// KEYS: session, user index. ARGV: encoded session id, active deadline or '', idle deadline
/// or '', grace, then attribute field/value pairs. Changes an existing session only.
pub(crate) static UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(with_prelude!(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #ARGV > 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
if ARGV[3] ~= '' then
  local now = now_ms()
  redis.call('HSET', KEYS[1], 'active_expires', ARGV[2], 'idle_expires', ARGV[3])
  local at = expiry(ARGV[3], ARGV[4], now)
  redis.call('PEXPIREAT', KEYS[1], at)
  redis.call('ZADD', KEYS[2], at, ARGV[1])
  refresh_index(KEYS[2], now)
end
return 1
"
    ))
});

/// KEYS: session, user index. ARGV: encoded session id.
pub(crate) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(with_prelude!(
        r"
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
refresh_index(KEYS[2], now_ms())
return deleted
"
    ))
});

/// KEYS: user index. ARGV: session key prefix. The user's sessions as a flat list of
/// encoded id, HGETALL fields; ids whose session is gone leave the index.
pub(crate) static LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(with_prelude!(
        r"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%d', now))
local found = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    found[#found + 1] = id
    found[#found + 1] = fields
  end
end
refresh_index(KEYS[1], now)
return found
"
    ))
});

/// KEYS: user index. ARGV: session key prefix. Deletes every session of the user and the
/// index; returns the encoded ids it held.
pub(crate) static DELETE_ALL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[1])
return ids
",
    )
});

/// KEYS: user index. ARGV: session key prefix, cutoff. Deletes the user's sessions whose idle
/// deadline is before the cutoff and returns their encoded ids; prunes the index.
pub(crate) static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(with_prelude!(
        r"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%d', now))
local cutoff = tonumber(ARGV[2])
local dead = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local idle = redis.call('HGET', ARGV[1] .. id, 'idle_expires')
  if not idle then
    redis.call('ZREM', KEYS[1], id)
  elseif tonumber(idle) < cutoff then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('ZREM', KEYS[1], id)
    dead[#dead + 1] = id
  end
end
refresh_index(KEYS[1], now)
return dead
"
    ))
});

/// KEYS: a key's throttle record (a hash: `attempts`, `last`). ARGV: free attempts, base
/// delay, maximum delay, forget-after (milliseconds). `{1, 0}` if the attempt is allowed (and
/// now recorded), `{0, wait}` with the milliseconds left if not. The same arithmetic as
/// `lucia::Backoff`, on the server's clock, so that instances with skewed clocks agree.
pub(crate) static THROTTLE_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free, base, max, forget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function delay(attempts)
  if attempts < free then return 0 end
  local wait = base * 2 ^ (attempts - free)
  if wait > max or wait ~= wait then wait = max end
  return math.floor(wait)
end
local record = redis.call('HMGET', KEYS[1], 'attempts', 'last')
local attempts = tonumber(record[1]) or 0
if attempts > 0 then
  local elapsed = now - (tonumber(record[2]) or now)
  if elapsed < 0 then elapsed = 0 end
  local wait = delay(attempts)
  if elapsed < wait then return {0, wait - elapsed} end
end
attempts = attempts + 1
redis.call('HSET', KEYS[1], 'attempts', string.format('%d', attempts), 'last', string.format('%d', now))
local keep = delay(attempts)
if forget > keep then keep = forget end
if keep < 1 then keep = 1 end
redis.call('PEXPIRE', KEYS[1], string.format('%d', keep))
return {1, 0}
",
    )
});
