#pragma once
// The Lua scripts that own stock in Redis. Every key of one sale shares the hash tag
// {<product>:<generation>}, so each script touches one slot and runs atomically; the
// per-user limit and the decrement happen in the same script (never check-then-act).
//
// Keys of a sale (see StockKeys): <base>:stock:<i> (one counter per shard),
// <base>:users (hash user → units held), <base>:holds (hash reservation → hold record).
// A hold record is "<state>|<shard>|<qty>|<user>|<unix_ms>", state h = taken from stock but not
// yet known durable in PostgreSQL, c = committed. Releasing deletes the hold first, so a unit
// goes back to stock at most once per reservation however many workers try.
// <base>:unsettled (sorted set reservation → unix ms taken) indexes the holds in state h: the
// reserve script adds to it, commit_hold, release, consume_hold and reconcile take out of it,
// and the crash sweep reads it (unsettled_holds) instead of the whole holds hash, whose size
// follows every live reservation of the sale.
#include <cstddef>
#include <cstdint>

#include "redis/redis_client.hpp"

namespace fs::inventory {

// check_and_decr (seed flow 1/5): KEYS[1]=shard counter, ARGV[1]=qty.
// Returns the remaining stock, or -1 when the shard holds fewer than qty units.
const redis::Script& check_and_decr_script();

// reserve: KEYS[1]=users hash (<base>:users; the sale's other keys, <base>:holds, :paused,
// :gate and :stock:<i>, are derived from it: they share its hash tag, so its slot).
// ARGV[1]=the click's terms, "<qty>:<per-user limit>:<gate 0|1>:<first shard>:<shard count>"
// (reserve_terms); gate 1 when the gate key is required; the walk is first, first+1, ...
// (mod count), as domain/shard_walk.hpp defines it. ARGV[2]=reservation id, ARGV[3]=user id,
// ARGV[4]=now (unix ms).
// Returns {1, shard} reserved, {0, "limit"} per-user limit reached, {0, "sold_out"},
// {0, "paused"} while the sale is being reconciled from the ledger (or not yet, on a new master);
// an error reply for malformed terms.
const redis::Script& reserve_script();

// reserve_batch: reserve for several clicks of one sale in one call, as if reserve ran for
// each in turn. KEYS[1]=users hash; ARGV=groups of 4 (terms, reservation id, user id, now),
// one per click. Returns a flat array, two elements per click in order (reserve's pair).
// An error reply, and nothing touched, when any click's terms are malformed.
const redis::Script& reserve_batch_script();
// The most clicks one reserve_batch call carries (Redis runs nothing else meanwhile).
constexpr std::size_t kReserveBatchMax = 64;

// The terms argument of reserve, written into `out` (at least kReserveTermsMax bytes); returns
// its length.
constexpr std::size_t kReserveTermsMax = 4 * 20 + 5;
std::size_t reserve_terms(char* out, std::int64_t quantity, std::int64_t per_user_limit, bool gated,
                          std::int64_t first_shard, std::int64_t shards);

// release: KEYS[1]=users hash, KEYS[2]=holds hash, KEYS[3]=shard counter of the hold,
// KEYS[4] (optional)=paused flag. ARGV[1]=reservation id, ARGV[2]=user id, ARGV[3]=qty.
// Returns 1 when the units went back, 0 when this reservation had no hold (already released or
// consumed), -1 while the sale is paused for a rebuild (nothing done: the caller retries; a
// return between the rebuild's ledger read and its rewrite would otherwise be overwritten).
const redis::Script& release_script();

// commit_hold: KEYS[1]=holds hash, ARGV[1..n]=reservation ids (one or many: the marks of a
// group-committed batch go together). Marks each hold durable (h → c) and takes it out of the
// unsettled index. Returns how many holds were marked (those that exist).
const redis::Script& commit_hold_script();

// unsettled_holds: KEYS[1]=holds hash, KEYS[2]=unsettled index. ARGV[1]=taken at or before
// (unix ms), ARGV[2]=at most this many. Returns pairs (reservation id, hold record) of holds
// still in state h, oldest first; index entries whose hold is gone or committed are removed.
const redis::Script& unsettled_holds_script();

// consume_hold: KEYS[1]=holds hash, ARGV[1]=reservation id. The units became an order or are
// given up without return: the hold is deleted, stock and the user's count stay as they are.
const redis::Script& consume_hold_script();

// reconcile: rebuilds a sale's counters from the ledger in one step, lifts the pause and opens
// the gate (on this server only: the gate is not replicated).
// KEYS[1]=users hash, KEYS[2]=holds hash, KEYS[3]=paused flag, KEYS[4]=gate,
// KEYS[5..]=every shard counter.
// ARGV[1]=number of shards n, ARGV[2..n+1]=their levels, then ARGV[n+2]=number of users u,
// u pairs (user, units), then pairs (reservation id, hold record) up to the end.
// Returns 1.
const redis::Script& reconcile_script();

// open_gate: KEYS[1]=gate. Sets it on this server only (not replicated, not in the AOF).
const redis::Script& open_gate_script();

}  // namespace fs::inventory
