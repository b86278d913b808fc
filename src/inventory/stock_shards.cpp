#include "inventory/stock_shards.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <iterator>
#include <span>

#include "common/parse_int.hpp"
#include "domain/shard_walk.hpp"
#include "inventory/stock_keys.hpp"
#include "inventory/stock_scripts.hpp"
#include "metrics/backend_metrics.hpp"

namespace fs::inventory {

bool parse_hold(std::string_view reservation_id, std::string_view value, Hold& out) {
  std::string_view parts[5];
  std::size_t n = 0, start = 0;
  for (std::size_t i = 0; i <= value.size() && n < 5; ++i) {
    if (i == value.size() || value[i] == '|') {
      parts[n++] = value.substr(start, i - start);
      start = i + 1;
    }
  }
  if (n != 5 || parts[0].size() != 1 || (parts[0][0] != 'h' && parts[0][0] != 'c')) return false;
  out.reservation_id = std::string(reservation_id);
  out.state = parts[0][0];
  out.user_id = std::string(parts[3]);
  return parse_int(parts[1], out.shard) && parse_int(parts[2], out.quantity) &&
         parse_int(parts[4], out.taken_at_ms);
}

namespace {

// The decimal text of a few integers in one buffer, viewed as Redis arguments.
template <std::size_t N>
class Decimals {
 public:
  explicit Decimals(const std::array<std::int64_t, N>& values) {
    char* at = buf_;
    for (std::size_t i = 0; i < N; ++i) {
      char* end = std::to_chars(at, buf_ + sizeof buf_, values[i]).ptr;
      views_[i] = std::string_view(at, static_cast<std::size_t>(end - at));
      at = end;
    }
  }
  Decimals(const Decimals&) = delete;  // the views point into this object
  Decimals& operator=(const Decimals&) = delete;
  std::string_view operator[](std::size_t i) const { return views_[i]; }

 private:
  char buf_[N * 20];
  std::array<std::string_view, N> views_;
};

using Views = std::span<const std::string_view>;

}  // namespace

std::chrono::steady_clock::time_point StockShards::started() const {
  return metrics_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
}

void StockShards::finished(std::string_view op, std::chrono::steady_clock::time_point start,
                           const Result<redis::Reply>& r) const {
  if (metrics_)
    metrics_->observe("redis", op, std::chrono::steady_clock::now() - start,
                      r ? nullptr : &r.error());
}

ReserveCall::ReserveCall(StockShards& shards, const Product& product, const std::string& user_id,
                         int quantity, const std::string& reservation_id, std::int64_t now_ms)
    : shards_(shards), users_(product.product_id, product.generation) {
  const std::size_t terms_size =
      reserve_terms(terms_, quantity, product.per_user_limit, shards.gated_,
                    first_shard(user_id, product.shards), product.shards);
  const char* now_end = std::to_chars(now_, now_ + sizeof now_, now_ms).ptr;
  keys_ = {users_.view()};
  args_ = {std::string_view(terms_, terms_size), reservation_id, user_id,
           std::string_view(now_, static_cast<std::size_t>(now_end - now_))};
}

boost::asio::awaitable<Result<redis::Reply>> ReserveCall::send() {
  start_ = shards_.started();
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                     void(Result<redis::Reply>)>(
      [this](auto handler) {
        const auto executor = boost::asio::get_associated_executor(handler);
        shards_.queue_reserve(*this, redis::ReplyHandler(std::move(handler)), executor);
      },
      boost::asio::use_awaitable);
}

namespace {

// Hands each click of a reserve_batch call its own pair of the reply, as reserve would have
// answered it; a failed call fails every click the same way.
struct BatchReply {
  std::vector<redis::ReplyHandler> clicks;

  void operator()(Result<redis::Reply> r) {
    if (r && r->type == redis::Reply::Type::array && r->elements.size() == 2 * clicks.size()) {
      for (std::size_t i = 0; i < clicks.size(); ++i) {
        redis::Reply pair;
        pair.type = redis::Reply::Type::array;
        pair.elements.reserve(2);
        pair.elements.push_back(std::move(r->elements[2 * i]));
        pair.elements.push_back(std::move(r->elements[2 * i + 1]));
        std::move(clicks[i])(Result<redis::Reply>(std::move(pair)));
      }
      return;
    }
    const Error error =
        r ? Error{Errc::protocol_error, "unexpected reply from reserve batch script"} : r.error();
    for (auto& click : clicks) std::move(click)(Result<redis::Reply>(error));
  }
};

}  // namespace

void StockShards::queue_reserve(ReserveCall& call, redis::ReplyHandler done,
                                const boost::asio::any_io_executor& executor) {
  const std::string_view users = call.users_.view();
  ReserveBatch* batch = nullptr;
  for (auto& b : reserve_batches_)
    if (b.users == users && b.calls.size() < kReserveBatchMax) batch = &b;
  if (batch == nullptr) {
    batch = &reserve_batches_.emplace_back();
    batch->users.assign(users);
  }
  batch->calls.push_back(QueuedReserve{&call, std::move(done)});
  if (reserve_flush_posted_) return;
  reserve_flush_posted_ = true;
  boost::asio::post(executor, [this] { flush_reserves(); });
}

// Each call is formatted within eval(): once it returns, the clicks' ReserveCalls are no longer
// read, and only their handlers wait for the reply.
void StockShards::flush_reserves() {
  reserve_flush_posted_ = false;
  auto batches = std::move(reserve_batches_);
  reserve_batches_.clear();
  for (auto& b : batches) {
    if (metrics_) metrics_->reserve_batch_size(b.calls.size());
    if (b.calls.size() == 1) {
      QueuedReserve& c = b.calls.front();
      redis_.eval(reserve_script(), Views(c.call->keys_), Views(c.call->args_), std::move(c.done));
      continue;
    }
    std::vector<std::string_view> args;
    args.reserve(b.calls.size() * 4);
    BatchReply reply;
    reply.clicks.reserve(b.calls.size());
    for (auto& c : b.calls) {
      args.insert(args.end(), c.call->args_.begin(), c.call->args_.end());
      reply.clicks.push_back(std::move(c.done));
    }
    const std::array<std::string_view, 1> keys{b.users};
    redis_.eval(reserve_batch_script(), Views(keys), Views(args),
                redis::ReplyHandler(std::move(reply)));
  }
}

Result<ReserveOutcome> ReserveCall::outcome(const Result<redis::Reply>& r) const {
  shards_.finished("reserve", start_, r);
  if (!r) return r.error();
  const auto& rep = *r;
  if (rep.type != redis::Reply::Type::array || rep.elements.size() != 2)
    return Error{Errc::protocol_error, "unexpected reply from reserve script"};
  const auto& flag = rep.elements[0];
  const auto& detail = rep.elements[1];
  if (flag.type == redis::Reply::Type::integer && flag.integer == 1 &&
      detail.type == redis::Reply::Type::integer)
    return ReserveOutcome{ReserveOutcome::Kind::reserved, static_cast<int>(detail.integer)};
  if (detail.str == "limit") return ReserveOutcome{ReserveOutcome::Kind::limit_exceeded, -1};
  if (detail.str == "sold_out") return ReserveOutcome{ReserveOutcome::Kind::sold_out, -1};
  if (detail.str == "paused") return ReserveOutcome{ReserveOutcome::Kind::paused, -1};
  return Error{Errc::protocol_error, "unexpected reply from reserve script"};
}

boost::asio::awaitable<Result<ReserveOutcome>> StockShards::reserve(
    const Product& product, const std::string& user_id, int quantity,
    const std::string& reservation_id, std::int64_t now_ms) {
  ReserveCall call(*this, product, user_id, quantity, reservation_id, now_ms);
  auto reply = co_await call.send();
  co_return call.outcome(reply);
}

boost::asio::awaitable<Result<bool>> StockShards::release(const Product& product,
                                                          const std::string& user_id, int shard,
                                                          int quantity,
                                                          const std::string& reservation_id) {
  StockKeys keys(product.product_id, product.generation);
  const std::string users = keys.users(), holds = keys.holds(), shard_key = keys.shard(shard),
                    paused = keys.paused();
  const Decimals<1> n({quantity});
  // Braced lists are built outside co_await: GCC 12 miscompiles them inside one.
  const std::array<std::string_view, 4> k{users, holds, shard_key, paused};
  const std::array<std::string_view, 3> a{reservation_id, user_id, n[0]};
  const auto start = started();
  auto r = co_await redis_.eval(release_script(), Views(k), Views(a));
  finished("release", start, r);
  if (!r) co_return std::move(r).error();
  if (r->type != redis::Reply::Type::integer)
    co_return Error{Errc::protocol_error, "unexpected reply from release script"};
  if (r->integer < 0) co_return Error{Errc::unavailable, "the sale is paused for a rebuild"};
  co_return r->integer == 1;
}

boost::asio::awaitable<Result<bool>> StockShards::hold_call(const redis::Script& script,
                                                            std::string_view op,
                                                            const Product& product,
                                                            const std::string& reservation_id) {
  const std::string holds = StockKeys(product.product_id, product.generation).holds();
  const std::array<std::string_view, 1> k{holds};
  const std::array<std::string_view, 1> a{reservation_id};
  const auto start = started();
  auto r = co_await redis_.eval(script, Views(k), Views(a));
  finished(op, start, r);
  if (!r) co_return std::move(r).error();
  co_return r->type == redis::Reply::Type::integer && r->integer == 1;
}

boost::asio::awaitable<Result<bool>> StockShards::commit_hold(const Product& product,
                                                              const std::string& reservation_id) {
  return hold_call(commit_hold_script(), "commit_hold", product, reservation_id);
}

void StockShards::commit_hold_soon(const boost::asio::any_io_executor& executor,
                                   const Product& product, std::string reservation_id) {
  pending_commits_[StockKeys(product.product_id, product.generation).holds()].push_back(
      std::move(reservation_id));
  if (flush_posted_) return;
  flush_posted_ = true;
  // Posted, not run now: the marks asked for until the posted handler runs join this one.
  boost::asio::post(executor, [this, executor] {
    boost::asio::co_spawn(executor, flush_commits(), boost::asio::detached);
  });
}

boost::asio::awaitable<void> StockShards::flush_commits() {
  auto batch = std::move(pending_commits_);
  pending_commits_.clear();
  flush_posted_ = false;
  constexpr std::size_t kPerCall = 512;
  for (auto& [holds_key, ids] : batch) {
    for (std::size_t at = 0; at < ids.size(); at += kPerCall) {
      const auto end = std::min(ids.size(), at + kPerCall);
      const std::array<std::string_view, 1> k{holds_key};
      const std::vector<std::string_view> a(ids.begin() + static_cast<long>(at),
                                            ids.begin() + static_cast<long>(end));
      const auto start = started();
      auto r = co_await redis_.eval(commit_hold_script(), Views(k), Views(a));
      finished("commit_hold", start, r);
    }
  }
}

boost::asio::awaitable<Result<bool>> StockShards::consume_hold(const Product& product,
                                                               const std::string& reservation_id) {
  return hold_call(consume_hold_script(), "consume_hold", product, reservation_id);
}

boost::asio::awaitable<Status> StockShards::initialize(const Product& product,
                                                       std::int64_t previous_generation) {
  if (previous_generation > 0) {
    // The old generation's shard count is unknown here; 256 is the maximum allowed.
    StockKeys old(product.product_id, previous_generation);
    std::vector<std::string> del{"DEL",           old.users(),  old.holds(),
                                 old.unsettled(), old.paused(), old.gate()};
    for (int i = 0; i < 256; ++i) del.push_back(old.shard(i));
    auto r = co_await redis_.command(std::move(del));
    if (!r) co_return std::move(r).error();
  }
  StockKeys keys(product.product_id, product.generation);
  const auto split = split_stock(product.stock_total, product.shards);
  std::vector<std::string> mset{"MSET"};
  for (int i = 0; i < product.shards; ++i) {
    mset.push_back(keys.shard(i));
    mset.push_back(std::to_string(split[static_cast<std::size_t>(i)]));
  }
  auto r = co_await redis_.command(std::move(mset));
  if (!r) co_return std::move(r).error();
  std::vector<std::string> del_new{"DEL", keys.users(), keys.holds(), keys.unsettled()};
  auto d = co_await redis_.command(std::move(del_new));
  if (!d) co_return std::move(d).error();
  if (gated_) {
    // A new sale starts in agreement with the ledger (nothing allocated yet).
    std::vector<std::string> gk{keys.gate()};
    std::vector<std::string> none;
    auto g = co_await redis_.eval(open_gate_script(), std::move(gk), std::move(none));
    if (!g) co_return std::move(g).error();
  }
  co_return Status{};
}

boost::asio::awaitable<Result<std::vector<std::int64_t>>> StockShards::levels(
    const Product& product) {
  StockKeys keys(product.product_id, product.generation);
  std::vector<std::string> mget{"MGET"};
  for (int i = 0; i < product.shards; ++i) mget.push_back(keys.shard(i));
  auto r = co_await redis_.command(std::move(mget));
  if (!r) co_return std::move(r).error();
  if (r->type != redis::Reply::Type::array)
    co_return Error{Errc::protocol_error, "unexpected MGET reply"};
  std::vector<std::int64_t> out;
  out.reserve(r->elements.size());
  for (const auto& e : r->elements) {
    std::int64_t v = 0;
    if (e.type == redis::Reply::Type::string && !parse_int(std::string_view(e.str), v))
      co_return Error{Errc::protocol_error, "non-integer stock counter"};
    out.push_back(v);
  }
  co_return out;
}

boost::asio::awaitable<Result<std::vector<Hold>>> StockShards::holds(const Product& product) {
  StockKeys keys(product.product_id, product.generation);
  std::vector<std::string> cmd{"HGETALL", keys.holds()};
  auto r = co_await redis_.command(std::move(cmd));
  if (!r) co_return std::move(r).error();
  std::vector<Hold> out;
  for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    Hold h;
    if (parse_hold(r->elements[i].str, r->elements[i + 1].str, h)) out.push_back(std::move(h));
  }
  co_return out;
}

boost::asio::awaitable<Result<std::vector<Hold>>> StockShards::unsettled_holds(
    const Product& product, std::int64_t taken_before_ms, std::size_t limit) {
  StockKeys keys(product.product_id, product.generation);
  std::vector<std::string> k{keys.holds(), keys.unsettled()};
  std::vector<std::string> a{std::to_string(taken_before_ms), std::to_string(limit)};
  auto r = co_await redis_.eval(unsettled_holds_script(), std::move(k), std::move(a));
  if (!r) co_return std::move(r).error();
  std::vector<Hold> out;
  for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    Hold h;
    if (parse_hold(r->elements[i].str, r->elements[i + 1].str, h)) out.push_back(std::move(h));
  }
  co_return out;
}

boost::asio::awaitable<Status> StockShards::pause(const Product& product,
                                                  std::chrono::milliseconds ttl) {
  StockKeys keys(product.product_id, product.generation);
  std::vector<std::string> cmd{"SET", keys.paused(), "1", "PX", std::to_string(ttl.count())};
  auto r = co_await redis_.command(std::move(cmd));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

std::string hold_record(const Hold& h) {
  return std::string(1, h.state) + "|" + std::to_string(h.shard) + "|" +
         std::to_string(h.quantity) + "|" + h.user_id + "|" + std::to_string(h.taken_at_ms);
}

boost::asio::awaitable<Status> StockShards::rewrite(const Product& product,
                                                    const LedgerState& state) {
  if (state.levels.size() != static_cast<std::size_t>(product.shards))
    co_return Error{Errc::internal, "reconcile: one level per shard is needed"};
  StockKeys keys(product.product_id, product.generation);
  std::vector<std::string> k{keys.users(), keys.holds(), keys.paused(), keys.gate()};
  for (int i = 0; i < product.shards; ++i) k.push_back(keys.shard(i));
  std::vector<std::string> a;
  a.reserve(2 + state.levels.size() + 2 * (state.user_units.size() + state.holds.size()));
  a.push_back(std::to_string(state.levels.size()));
  for (auto v : state.levels) a.push_back(std::to_string(v));
  a.push_back(std::to_string(state.user_units.size()));
  for (const auto& [user, units] : state.user_units) {
    a.push_back(user);
    a.push_back(std::to_string(units));
  }
  for (const auto& h : state.holds) {
    a.push_back(h.reservation_id);
    a.push_back(hold_record(h));
  }
  auto r = co_await redis_.eval(reconcile_script(), std::move(k), std::move(a));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

}  // namespace fs::inventory
