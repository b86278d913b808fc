#include "app/workers.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "app/backends.hpp"
#include "common/random.hpp"
#include "domain/product.hpp"
#include "events/event_log.hpp"
#include "events/redis_streams_event_log.hpp"
#include "inventory/stock_shards.hpp"
#include "metrics/metrics_registry.hpp"
#include "metrics/saga_metrics.hpp"
#include "payments/stripe_client.hpp"
#include "runtime/io_runtime.hpp"
#include "saga/expiry_sweeper.hpp"
#include "saga/payment_saga.hpp"
#include "saga/saga_events.hpp"
#include "saga/saga_store.hpp"
#include "saga/stock_returner.hpp"

namespace fs::app {
namespace asio = boost::asio;

std::set<std::string> parse_roles(const std::string& list, std::string* error) {
  std::set<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string role = list.substr(start, end - start);
    if (!role.empty()) {
      if (role != "saga" && role != "sweeper") {
        if (error) *error = "unknown role '" + role + "' (known: saga, sweeper)";
        return {};
      }
      out.insert(role);
    }
    start = end + 1;
  }
  return out;
}

std::function<std::unique_ptr<events::EventLog>(asio::any_io_executor, redis::Client&)>
redis_streams_event_log(const WorkersConfig& config, std::string key_prefix) {
  events::StreamsConfig sc;
  if (!key_prefix.empty()) sc.key_prefix = std::move(key_prefix);
  sc.reader.host = config.redis_host;
  sc.reader.port = config.redis_port;
  sc.reader.sentinel = config.redis_sentinel;
  return
      [sc](asio::any_io_executor ex, redis::Client& client) -> std::unique_ptr<events::EventLog> {
        return std::make_unique<events::RedisStreamsEventLog>(std::move(ex), client, sc);
      };
}

namespace {

// One thread's backends and saga parts.
struct Unit {
  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<pg::Database> db;
  std::unique_ptr<inventory::StockShards> stock;
  std::unique_ptr<saga::SagaStore> store;
  std::unique_ptr<saga::StockReturner> returner;
  std::unique_ptr<saga::PaymentSaga> saga;
  std::unique_ptr<saga::ExpirySweeper> sweeper;
  std::unique_ptr<events::EventLog> log;
  std::vector<std::unique_ptr<events::ConsumerLoop>> consumers;
};

}  // namespace

struct BackgroundWorkers::Impl {
  explicit Impl(WorkersConfig c)
      : cfg(std::move(c)),
        own_registry(cfg.registry ? nullptr : std::make_unique<metrics::MetricsRegistry>()),
        registry(cfg.registry ? cfg.registry : own_registry.get()),
        metrics(*registry),
        runtime(cfg.threads ? cfg.threads : 1, "fs-worker") {}

  WorkersConfig cfg;
  std::unique_ptr<metrics::MetricsRegistry> own_registry;
  metrics::MetricsRegistry* registry;
  metrics::SagaMetrics metrics;
  IoRuntime runtime;
  std::vector<std::unique_ptr<Unit>> units;
  std::atomic<bool> stopping{false};
  std::atomic<int> loops{0};
  bool started = false, stopped = false;

  void build(std::size_t i);
  void spawn(std::size_t i, std::function<asio::awaitable<void>()> body);
  asio::awaitable<void> nap(std::chrono::milliseconds d);
  asio::awaitable<void> saga_scan_loop(Unit& u);
  asio::awaitable<void> run_saga(saga::PaymentSaga& saga, saga::SagaRecord record,
                                 std::shared_ptr<std::size_t> in_flight);
  asio::awaitable<void> lease_loop(Unit& u);
  asio::awaitable<void> sweeper_loop(Unit& u);
  asio::awaitable<void> repair_loop(Unit& u);
};

void BackgroundWorkers::Impl::build(std::size_t i) {
  auto ex = runtime.context(i).get_executor();
  auto u = std::make_unique<Unit>();
  u->redis =
      connect_redis(ex, cfg.redis_host, cfg.redis_port, cfg.redis_sentinel, cfg.redis_timeout);
  // A saga holds a connection only while it queries (not while the provider answers); up to
  // 32 connections keep short transactions from queueing behind each other.
  const std::size_t connections =
      std::max(cfg.pg_connections, std::min<std::size_t>(cfg.saga_concurrency + 4, 32));
  u->db = connect_postgres(ex, cfg.pg_conninfo, connections, cfg.pg_timeout);
  u->stock = std::make_unique<inventory::StockShards>(*u->redis);
  u->store = std::make_unique<saga::SagaStore>(*u->db);
  u->returner = std::make_unique<saga::StockReturner>(*u->store, *u->stock, metrics);
  payments::StripeClientConfig pc;
  pc.host = cfg.payments_host;
  pc.port = cfg.payments_port;
  pc.secret_key = cfg.payments_secret_key;
  pc.timeout = cfg.payments_timeout;
  saga::PaymentSagaOptions so;
  so.retry = cfg.retry;
  so.lease = cfg.lease;
  so.kill_at = cfg.kill_at;
  u->saga = std::make_unique<saga::PaymentSaga>(
      ex, *u->store, *u->returner, *u->stock,
      [ex, pc]() -> std::unique_ptr<payments::PaymentProvider> {
        return std::make_unique<payments::StripeClient>(ex, pc);
      },
      SecureRandom::instance(), metrics, so);
  u->sweeper =
      std::make_unique<saga::ExpirySweeper>(*u->store, *u->returner, metrics, cfg.sweep_batch);
  if (cfg.event_log && cfg.roles.count("saga")) {
    u->log = cfg.event_log(ex, *u->redis);
    // Each member handles one event at a time: saga_concurrency members per thread.
    for (std::size_t c = 0; c < cfg.saga_concurrency; ++c) {
      events::ConsumerConfig cc;
      cc.topic = events::topics::payments;
      cc.group = saga::kSagaGroup;
      cc.consumer = cfg.consumer_prefix + "-" + std::to_string(::getpid()) + "-" +
                    std::to_string(i) + "-" + std::to_string(c);
      cc.batch = 1;
      cc.reclaim_idle = cfg.event_reclaim_idle;
      u->consumers.push_back(
          std::make_unique<events::ConsumerLoop>(*u->log, cc, saga::saga_event_handler(*u->saga)));
    }
  }
  units.push_back(std::move(u));
}

void BackgroundWorkers::Impl::spawn(std::size_t i, std::function<asio::awaitable<void>()> body) {
  ++loops;
  asio::co_spawn(
      runtime.context(i),
      [this, body = std::move(body)]() -> asio::awaitable<void> {
        try {
          co_await body();
        } catch (const std::exception& e) {
          spdlog::error("worker loop failed: {}", e.what());
        }
        --loops;
      },
      asio::detached);
}

asio::awaitable<void> BackgroundWorkers::Impl::nap(std::chrono::milliseconds d) {
  // Sleeps in slices so that stop() is noticed within 100 ms.
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stopping.load()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    asio::steady_timer t(co_await asio::this_coro::executor,
                         std::min(left, std::chrono::milliseconds{100}));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> BackgroundWorkers::Impl::saga_scan_loop(Unit& u) {
  // One scanner per thread claims as many reservations as there are free saga slots (one
  // query per batch, not one per saga) and runs each saga as its own coroutine.
  const auto min_age = cfg.poll_intake ? std::chrono::milliseconds{0} : cfg.stale_paying_after;
  const auto idle = cfg.poll_intake
                        ? cfg.intake_poll
                        : std::max(cfg.stale_paying_after / 4, std::chrono::milliseconds{100});
  const std::size_t slots = std::max<std::size_t>(cfg.saga_concurrency, 1);
  auto in_flight = std::make_shared<std::size_t>(0);
  auto ex = co_await asio::this_coro::executor;
  while (!stopping.load()) {
    if (*in_flight >= slots) {
      co_await nap(std::chrono::milliseconds{5});
      continue;
    }
    auto claimed = co_await u.store->claim_stale(min_age, cfg.lease, slots - *in_flight);
    if (!claimed) spdlog::warn("saga scan: {}", claimed.error().message);
    if (!claimed || claimed->empty()) {
      co_await nap(idle);
      continue;
    }
    for (auto& rec : *claimed) {
      ++*in_flight;
      ++loops;
      // An awaitable, not a lambda with captures (GCC 12 mishandles non-trivial captures of
      // coroutine lambdas): the arguments live in the coroutine frame.
      asio::co_spawn(ex, run_saga(*u.saga, std::move(rec), in_flight), asio::detached);
    }
  }
}

asio::awaitable<void> BackgroundWorkers::Impl::run_saga(saga::PaymentSaga& saga,
                                                        saga::SagaRecord record,
                                                        std::shared_ptr<std::size_t> in_flight) {
  try {
    auto st = co_await saga.run(std::move(record));
    if (!st) spdlog::warn("saga: {}", st.error().message);
  } catch (const std::exception& e) {
    spdlog::error("saga failed: {}", e.what());
  }
  --*in_flight;
  --loops;
}

asio::awaitable<void> BackgroundWorkers::Impl::lease_loop(Unit& u) {
  // The heartbeat of this thread's sagas in flight: one UPDATE renews all their leases.
  const auto every = std::max(cfg.lease / 3, std::chrono::milliseconds{10});
  while (!stopping.load()) {
    co_await nap(every);
    auto st = co_await u.saga->renew_leases();
    if (!st) spdlog::warn("saga lease renewal: {}", st.error().message);
  }
}

asio::awaitable<void> BackgroundWorkers::Impl::sweeper_loop(Unit& u) {
  while (!stopping.load()) {
    auto n = co_await u.sweeper->sweep_once();
    if (n) spdlog::info("expiry sweeper: {} reservation(s) expired", n);
    co_await nap(cfg.sweep_interval);
  }
}

asio::awaitable<void> BackgroundWorkers::Impl::repair_loop(Unit& u) {
  while (!stopping.load()) {
    auto n = co_await u.returner->repair(cfg.return_repair_min_age);
    if (n) spdlog::info("stock returns repaired: {}", n);
    co_await nap(cfg.return_repair_interval);
  }
}

BackgroundWorkers::BackgroundWorkers(WorkersConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

BackgroundWorkers::~BackgroundWorkers() { stop(); }

void BackgroundWorkers::start() {
  auto& d = *impl_;
  if (d.cfg.pg_conninfo.empty()) throw std::runtime_error("a PostgreSQL connection is required");
  if (d.cfg.roles.empty()) throw std::runtime_error("no worker role given");
  d.runtime.start();
  for (std::size_t i = 0; i < d.runtime.size(); ++i) d.build(i);
  for (std::size_t i = 0; i < d.units.size(); ++i) {
    Unit* u = d.units[i].get();
    if (d.cfg.roles.count("saga")) {
      // Without an event log the scanner is the intake; with one, the consumers are, and the
      // scanner is the safety net (stale PAYING with a lapsed lease).
      d.spawn(i, [&d, u] { return d.saga_scan_loop(*u); });
      d.spawn(i, [&d, u] { return d.lease_loop(*u); });
      for (auto& c : u->consumers) {
        events::ConsumerLoop* raw = c.get();
        d.spawn(i, [raw] { return raw->run(); });
      }
    }
    if (d.cfg.roles.count("sweeper")) {
      d.spawn(i, [&d, u] { return d.sweeper_loop(*u); });
      d.spawn(i, [&d, u] { return d.repair_loop(*u); });
    }
  }
  d.started = true;
}

void BackgroundWorkers::stop() {
  auto& d = *impl_;
  if (d.stopped || !d.started) return;
  d.stopped = true;
  d.stopping = true;
  for (std::size_t i = 0; i < d.units.size(); ++i) {
    std::promise<void> told;
    Unit* u = d.units[i].get();
    asio::post(d.runtime.context(i), [u, &told] {
      for (auto& c : u->consumers) c->stop();
      told.set_value();
    });
    told.get_future().wait();
  }
  // In-flight sagas finish their current provider call (bounded by its timeout); whatever is
  // left PAYING is resumed by another worker once its lease lapses.
  const auto deadline =
      std::chrono::steady_clock::now() + d.cfg.payments_timeout + std::chrono::seconds{2};
  while (d.loops.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  for (std::size_t i = 0; i < d.units.size(); ++i) {
    std::promise<void> closed;
    Unit* u = d.units[i].get();
    asio::post(d.runtime.context(i), [u, &closed] {
      u->redis->close();
      u->db->close();
      closed.set_value();
    });
    closed.get_future().wait();
  }
  d.runtime.abort();
  d.units.clear();
}

std::size_t BackgroundWorkers::demo_checkout(const std::string& product_id) {
  auto& d = *impl_;
  Unit* u = d.units.at(0).get();
  auto body = [u, product_id]() -> asio::awaitable<std::size_t> {
    std::vector<pg::Param> p{product_id};
    auto rows = co_await u->db->query(
        "SELECT reservation_id, user_id FROM reservations WHERE product_id = $1 "
        "AND status = 'PENDING' ORDER BY created_at",
        std::move(p));
    if (!rows) co_return 0;
    std::size_t sent = 0;
    for (std::size_t i = 0; i < rows->size(); ++i) {
      if (i % 5 == 4) continue;  // this shopper never pays: the reservation expires
      std::string pm = i % 5 == 3 ? "pm_card_chargeDeclined" : "pm_card_visa";
      auto st = co_await u->store->begin_payment(std::string(rows->get(i, 1)),
                                                 std::string(rows->get(i, 0)), pm);
      if (st) ++sent;
    }
    co_return sent;
  };
  return asio::co_spawn(d.runtime.context(0), body(), asio::use_future).get();
}

BackgroundWorkers::SaleOutcome BackgroundWorkers::wait_settled(const std::string& product_id,
                                                               std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  Unit* u = d.units.at(0).get();
  auto read = [u, product_id]() -> asio::awaitable<SaleOutcome> {
    SaleOutcome o;
    std::vector<pg::Param> p{product_id};
    auto prod = co_await u->db->query(
        "SELECT stock_total, shards, generation FROM products WHERE product_id = $1", std::move(p));
    if (!prod || prod->empty()) co_return o;
    Product product;
    product.product_id = product_id;
    o.stock_total = std::stoll(std::string(prod->get(0, 0)));
    product.shards = std::stoi(std::string(prod->get(0, 1)));
    product.generation = std::stoll(std::string(prod->get(0, 2)));
    std::vector<pg::Param> q{product_id, std::to_string(product.generation)};
    auto counts = co_await u->db->query(
        "SELECT status, coalesce(sum(quantity), 0)::bigint, "
        "(SELECT count(*) FROM orders WHERE product_id = $1), "
        "count(*) FILTER (WHERE stock_return_pending) FROM reservations "
        "WHERE product_id = $1 AND generation = $2 GROUP BY status",
        std::move(q));
    if (counts) {
      for (std::size_t i = 0; i < counts->size(); ++i) {
        const auto st = counts->get(i, 0);
        const auto n = std::stoll(std::string(counts->get(i, 1)));
        o.orders = std::stoll(std::string(counts->get(i, 2)));
        o.returns_pending += std::stoll(std::string(counts->get(i, 3)));
        if (st == "PENDING") o.pending = n;
        if (st == "PAYING") o.paying = n;
        if (st == "PAID") o.paid = n;
        if (st == "FAILED") o.failed = n;
        if (st == "EXPIRED") o.expired = n;
      }
    }
    auto levels = co_await u->stock->levels(product);
    if (levels)
      for (auto v : *levels) o.available += v;
    co_return o;
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto o = asio::co_spawn(d.runtime.context(0), read(), asio::use_future).get();
    if ((o.pending == 0 && o.paying == 0 && o.returns_pending == 0) ||
        std::chrono::steady_clock::now() >= deadline)
      return o;
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
  }
}

std::string BackgroundWorkers::metrics_text() const { return impl_->registry->serialize(); }

}  // namespace fs::app
