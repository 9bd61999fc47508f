"""Counters in Redis, shared by every replica: one Lua script per admission (one round
trip, atomic over every check) and one per settlement.

The scripts read the time from Redis itself, so replicas with skewed clocks still share
one bucket. Keys of one call may live in different slots, so this needs a single Redis
(or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from keyhouse.limits.store import (
    Check,
    LimitStoreError,
    Rate,
    RateState,
    Refund,
    Release,
    Settlement,
    Slots,
    Verdict,
    rate_state,
)

# ARGV: lease, then 5 values per check: kind, a, b, c, d.
#   rate:  capacity, cost        spend: limit, reserve, ttl, enforce(1|0)
#   slots: limit, lease seconds
# Returns {refused index (0: admitted), retry-after, value of each check as a string}.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = ARGV[1]
local refused, retry = 0, 0
local values = {}
for i = 1, #KEYS do
  local o = 1 + (i - 1) * 5
  local kind, a, b = ARGV[o + 1], tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  local v
  if kind == 'rate' then
    local h = redis.call('HMGET', KEYS[i], 'v', 't')
    v = tonumber(h[1])
    if v == nil then v = a else v = math.min(a, v + math.max(0, now - tonumber(h[2])) * a / 60) end
    local need = math.min(b, a)
    if v < need then
      if refused == 0 then refused = i end
      retry = math.max(retry, (need - v) * 60 / a)
    end
  elseif kind == 'slots' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    v = redis.call('ZCARD', KEYS[i])
    if v >= a then
      if refused == 0 then refused = i end
      retry = math.max(retry, 1)
    end
  else
    v = tonumber(redis.call('GET', KEYS[i]) or '0')
    if ARGV[o + 5] == '1' and v + b > a then
      if refused == 0 then refused = i end
      retry = math.max(retry, tonumber(ARGV[o + 4]))
    end
  end
  values[i] = v
end
if refused == 0 then
  for i = 1, #KEYS do
    local o = 1 + (i - 1) * 5
    local kind, a, b = ARGV[o + 1], tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
    if kind == 'rate' then
      local left = values[i] - b
      values[i] = left
      redis.call('HSET', KEYS[i], 'v', tostring(left), 't', tostring(now))
      redis.call('EXPIRE', KEYS[i], math.ceil((a - left) * 60 / a) + 1)
    elseif kind == 'slots' then
      redis.call('ZADD', KEYS[i], now + b, lease)
      redis.call('EXPIRE', KEYS[i], math.ceil(b) + 1)
    else
      -- the argument as sent: a Lua number could be formatted with an exponent
      redis.call('INCRBY', KEYS[i], ARGV[o + 3])
      redis.call('EXPIRE', KEYS[i], tonumber(ARGV[o + 4]))
    end
  end
end
local out = {refused, tostring(retry)}
for i = 1, #KEYS do out[i + 2] = tostring(values[i]) end
return out
"""

# ARGV: lease, then 4 values per settlement: kind, a, b, c.
#   refund: capacity, delta       release: -
#   charge: delta, ttl, alert limit (-1: none)
# Returns the keys of budgets that reached their alert limit for the first time.
SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = ARGV[1]
local crossed = {}
for i = 1, #KEYS do
  local o = 1 + (i - 1) * 4
  local kind, a, b = ARGV[o + 1], tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  if kind == 'refund' then
    local h = redis.call('HMGET', KEYS[i], 'v', 't')
    local v = tonumber(h[1])
    if v == nil then v = a else v = math.min(a, v + math.max(0, now - tonumber(h[2])) * a / 60) end
    v = math.min(a, v + b)
    redis.call('HSET', KEYS[i], 'v', tostring(v), 't', tostring(now))
    redis.call('EXPIRE', KEYS[i], math.ceil((a - v) * 60 / a) + 1)
  elseif kind == 'release' then
    redis.call('ZREM', KEYS[i], lease)
  else
    local used = redis.call('INCRBY', KEYS[i], ARGV[o + 2])
    redis.call('EXPIRE', KEYS[i], b)
    local limit = tonumber(ARGV[o + 4])
    if limit >= 0 and used >= limit then
      if redis.call('SET', KEYS[i] .. ':alerted', '1', 'NX', 'EX', b) then
        crossed[#crossed + 1] = KEYS[i]
      end
    end
  end
end
return crossed
"""


# ARGV: 2 values per check: kind, capacity (rates). Returns each value as a string.
PEEK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {}
for i = 1, #KEYS do
  local kind, a = ARGV[(i - 1) * 2 + 1], tonumber(ARGV[(i - 1) * 2 + 2])
  local v
  if kind == 'rate' then
    local h = redis.call('HMGET', KEYS[i], 'v', 't')
    v = tonumber(h[1])
    if v == nil then v = a else v = math.min(a, v + math.max(0, now - tonumber(h[2])) * a / 60) end
  elseif kind == 'slots' then
    v = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf')
  else
    v = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  out[i] = tostring(v)
end
return out
"""


class RedisStore:
    name = "redis"
    shared = True

    def __init__(self, url: str, timeout: float = 0.5) -> None:
        # Short timeouts: an unreachable Redis must turn into the operator's chosen
        # answer quickly, never into a request that hangs.
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=0,
            retry_on_timeout=False,
        )
        self._admit = self._client.register_script(ADMIT)
        self._settle = self._client.register_script(SETTLE)
        self._peek = self._client.register_script(PEEK)

    async def admit(self, checks: list[Check], lease: str) -> Verdict:
        args: list[Any] = [lease]
        for c in checks:
            if isinstance(c, Rate):
                args += ["rate", c.capacity, c.cost, 0, 0]
            elif isinstance(c, Slots):
                args += ["slots", c.limit, c.lease_seconds, 0, 0]
            else:
                args += ["spend", c.limit, c.reserve, c.ttl_seconds, 1 if c.enforce else 0]
        try:
            raw = await self._admit(keys=[c.key for c in checks], args=args)
        except (RedisError, OSError) as exc:
            raise LimitStoreError(type(exc).__name__) from None
        refused_at, retry = int(raw[0]), float(raw[1])
        values = [float(v) for v in raw[2:]]
        rates = tuple(
            _state(c, v) for c, v in zip(checks, values, strict=True) if isinstance(c, Rate)
        )
        if refused_at:
            return Verdict(False, checks[refused_at - 1], retry, rates)
        return Verdict(True, rates=rates)

    async def settle(self, settlements: list[Settlement], lease: str) -> list[str]:
        if not settlements:
            return []
        args: list[Any] = [lease]
        for s in settlements:
            if isinstance(s, Refund):
                args += ["refund", s.capacity, s.delta, 0]
            elif isinstance(s, Release):
                args += ["release", 0, 0, 0]
            else:
                args += [
                    "charge",
                    s.delta,
                    s.ttl_seconds,
                    -1 if s.alert_limit is None else s.alert_limit,
                ]
        try:
            crossed = await self._settle(keys=[s.key for s in settlements], args=args)
        except (RedisError, OSError) as exc:
            raise LimitStoreError(type(exc).__name__) from None
        return [k.decode() if isinstance(k, bytes) else str(k) for k in crossed]

    async def peek(self, checks: list[Check]) -> list[float]:
        if not checks:
            return []
        args: list[Any] = []
        for c in checks:
            args += [
                ("rate" if isinstance(c, Rate) else "slots" if isinstance(c, Slots) else "spend"),
                c.capacity if isinstance(c, Rate) else 0,
            ]
        try:
            raw = await self._peek(keys=[c.key for c in checks], args=args)
        except (RedisError, OSError) as exc:
            raise LimitStoreError(type(exc).__name__) from None
        return [float(v) for v in raw]

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise LimitStoreError(type(exc).__name__) from None

    async def aclose(self) -> None:
        await self._client.aclose()


def _state(check: Rate, value: float) -> RateState:
    return rate_state(check.kind, check.capacity, value)
