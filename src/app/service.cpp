#include "app/service.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <stdexcept>
#include <thread>

#include "api/api.hpp"
#include "app/backends.hpp"
#include "app/migrations.hpp"
#include "catalog/product_catalog.hpp"
#include "catalog/product_store.hpp"
#include "common/random.hpp"
#include "domain/jwt.hpp"
#include "gateway/gateway.hpp"
#include "http/server.hpp"
#include "inventory/stock_shards.hpp"
#include "inventory/stock_view.hpp"
#include "metrics/backend_metrics.hpp"
#include "metrics/gateway_metrics.hpp"
#include "metrics/http_metrics.hpp"
#include "metrics/metrics_registry.hpp"
#include "metrics/notification_metrics.hpp"
#include "metrics/reservation_metrics.hpp"
#include "notifications/notification_feed.hpp"
#include "reservation/hold_resolver.hpp"
#include "reservation/idempotency_store.hpp"
#include "reservation/reservation_service.hpp"
#include "reservation/reservation_store.hpp"
#include "reservation/stock_reconciler.hpp"
#include "runtime/io_runtime.hpp"
#include "saga/saga_store.hpp"

namespace fs::app {
namespace asio = boost::asio;

namespace {

// Runs an awaitable on `ctx` from a non-I/O thread and waits for it (start-up and shutdown only).
template <class F>
auto run_on(asio::io_context& ctx, F make) {
  return asio::co_spawn(ctx, make(), asio::use_future).get();
}

}  // namespace

struct Worker {
  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<pg::Database> db;
  std::unique_ptr<catalog::ProductStore> products;
  std::unique_ptr<inventory::StockShards> stock;
  std::unique_ptr<reservation::ReservationStore> store;
  std::unique_ptr<reservation::HoldResolver> holds;
  std::unique_ptr<reservation::IdempotencyStore> idempotency;
  std::unique_ptr<reservation::ReservationService> service;
  std::unique_ptr<saga::SagaStore> saga;
  std::unique_ptr<notifications::NotificationFeed> feed;     // GET /v1/events
  std::unique_ptr<reservation::StockReconciler> reconciler;  // worker 0 only
};

struct FlashsaleService::Impl {
  explicit Impl(ServiceConfig c)
      : cfg(std::move(c)),
        http_metrics(registry),
        backend_metrics(registry),
        reservation_metrics(registry),
        gateway_metrics(registry),
        notification_metrics(registry),
        catalog(SystemClock::instance()),
        jwt(cfg.jwt_secret, SystemClock::instance()),
        runtime(cfg.threads ? cfg.threads : 1) {}

  ServiceConfig cfg;
  metrics::MetricsRegistry registry;
  metrics::HttpMetrics http_metrics;
  metrics::BackendMetrics backend_metrics;
  metrics::ReservationMetrics reservation_metrics;
  metrics::GatewayMetrics gateway_metrics;
  metrics::NotificationMetrics notification_metrics;
  catalog::ProductCatalog catalog;
  inventory::StockView stock_view;
  auth::JwtVerifier jwt;
  IoRuntime runtime;
  std::unique_ptr<reservation::InsertLanes> insert_lanes;  // shared by the workers' stores
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<gateway::Gateway> gateway;  // null when every layer is off
  api::ApiDeps deps;
  http::Router router;
  std::unique_ptr<api::MetricsObserver> observer;
  std::unique_ptr<http::Server> server;

  std::atomic<bool> stopping{false};
  std::atomic<int> loops_running{0};
  std::vector<std::unique_ptr<asio::steady_timer>> loop_timers;
  std::vector<std::unique_ptr<asio::steady_timer>> probe_timers;  // one per I/O thread
  bool started = false;
  bool stopped = false;

  void build_worker(std::size_t i);
  void start_lag_probe(std::size_t i);
  void start_loop(std::chrono::milliseconds every,
                  std::function<asio::awaitable<void>(Worker&)> body);
  asio::awaitable<void> refresh_catalog(Worker& w);
  asio::awaitable<void> refresh_stock(Worker& w);
  asio::awaitable<void> sweep_holds(Worker& w);
  asio::awaitable<void> reconcile_stock(Worker& w);
};

void FlashsaleService::Impl::build_worker(std::size_t i) {
  auto ex = runtime.context(i).get_executor();
  auto w = std::make_unique<Worker>();
  w->redis =
      connect_redis(ex, cfg.redis_host, cfg.redis_port, cfg.redis_sentinel, cfg.redis_timeout);
  w->db = connect_postgres(ex, cfg.pg_conninfo, cfg.pg_connections_per_thread, cfg.pg_timeout);
  w->products = std::make_unique<catalog::ProductStore>(*w->db);
  w->stock = std::make_unique<inventory::StockShards>(
      *w->redis, cfg.reconcile_on_master_change.value_or(cfg.redis_sentinel.enabled()),
      &backend_metrics);
  w->store = std::make_unique<reservation::ReservationStore>(ex, *w->db, backend_metrics,
                                                             insert_lanes.get());
  w->holds = std::make_unique<reservation::HoldResolver>(
      ex, *w->store, *w->stock, stock_view, SystemClock::instance(), reservation_metrics);
  w->idempotency = std::make_unique<reservation::IdempotencyStore>(*w->redis);
  if (i == 0) {
    reservation::ReconcilerConfig rcc;
    rcc.settle = cfg.pg_timeout + std::chrono::milliseconds{500};
    w->reconciler =
        std::make_unique<reservation::StockReconciler>(ex, *w->redis, *w->db, *w->stock, rcc);
  }
  w->service =
      std::make_unique<reservation::ReservationService>(reservation::ReservationServiceDeps{
          catalog, *w->products, *w->stock, stock_view, *w->store, *w->holds,
          SystemClock::instance(), SecureRandom::instance(), reservation_metrics});
  w->feed =
      std::make_unique<notifications::NotificationFeed>(*w->redis, notifications::FeedConfig{});
  api::WorkerServices ws;
  ws.reservations = w->service.get();
  ws.notifications = w->feed.get();
  ws.idempotency = w->idempotency.get();
  w->saga = std::make_unique<saga::SagaStore>(*w->db);
  ws.saga = w->saga.get();
  Worker* raw = w.get();
  ws.ready = [raw]() -> asio::awaitable<bool> {
    std::vector<std::string> ping{"PING"};
    auto r = co_await raw->redis->command(std::move(ping));
    if (!r) co_return false;
    auto q = co_await raw->db->query("SELECT 1");
    co_return q.ok();
  };
  deps.workers.push_back(std::move(ws));
  if (gateway) gateway->add_worker(ex, *w->redis);
  workers.push_back(std::move(w));
}

// Every 20 ms on I/O thread i: how late did the timer fire (flashsale_io_loop_lag_seconds)?
void FlashsaleService::Impl::start_lag_probe(std::size_t i) {
  auto& ctx = runtime.context(i);
  // Not in loop_timers (stop() cancels those from thread 0): the probe sees `stopping` within
  // one period.
  probe_timers.push_back(std::make_unique<asio::steady_timer>(ctx));
  asio::steady_timer* timer = probe_timers.back().get();
  ++loops_running;
  asio::co_spawn(
      ctx,
      [this, timer]() -> asio::awaitable<void> {
        constexpr auto period = std::chrono::milliseconds{20};
        while (!stopping.load()) {
          const auto due = std::chrono::steady_clock::now() + period;
          timer->expires_at(due);
          auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
          if (!ec) http_metrics.loop_lag(std::chrono::steady_clock::now() - due);
        }
        --loops_running;
      },
      asio::detached);
}

void FlashsaleService::Impl::start_loop(std::chrono::milliseconds every,
                                        std::function<asio::awaitable<void>(Worker&)> body) {
  auto& ctx = runtime.context(0);
  loop_timers.push_back(std::make_unique<asio::steady_timer>(ctx));
  asio::steady_timer* timer = loop_timers.back().get();
  Worker* w = workers[0].get();
  ++loops_running;
  asio::co_spawn(
      ctx,
      [this, timer, w, every, body = std::move(body)]() -> asio::awaitable<void> {
        while (!stopping.load()) {
          try {
            co_await body(*w);
          } catch (const std::exception& e) {
            spdlog::error("background loop failed: {}", e.what());
          }
          timer->expires_after(every);
          auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
          (void)ec;
        }
        --loops_running;
      },
      asio::detached);
}

asio::awaitable<void> FlashsaleService::Impl::refresh_catalog(Worker& w) {
  auto all = co_await w.products->load_all();
  if (all) catalog.replace_all(std::move(*all));
}

asio::awaitable<void> FlashsaleService::Impl::refresh_stock(Worker& w) {
  for (const auto& p : catalog.all()) {
    auto levels = co_await w.stock->levels(*p);
    if (!levels) continue;
    std::int64_t total = 0;
    for (auto v : *levels) total += v;
    stock_view.update_available(p->product_id, p->generation, total);
    reservation_metrics.stock_available(p->product_id, total);
  }
}

asio::awaitable<void> FlashsaleService::Impl::sweep_holds(Worker& w) {
  for (const auto& p : catalog.all()) (void)co_await w.holds->sweep(*p, cfg.hold_min_age);
}

asio::awaitable<void> FlashsaleService::Impl::reconcile_stock(Worker& w) {
  auto changed = co_await w.reconciler->master_changed();
  if (!changed) {
    // Redis between masters: the next check tries again.
    spdlog::debug("stock reconcile check: {}", changed.error().message);
    co_return;
  }
  if (!*changed) co_return;
  const std::string run_id = **changed;
  // Every sale in the ledger, read fresh: one created on another instance a moment ago may not
  // be in this instance's catalog yet, and a sale left out would keep its gate closed.
  auto all = co_await w.products->load_all();
  if (!all) co_return;
  std::vector<std::shared_ptr<const Product>> sales;
  sales.reserve(all->size());
  for (auto& p : *all) sales.push_back(std::make_shared<const Product>(std::move(p)));
  auto out = co_await w.reconciler->rebuild(run_id, std::move(sales));
  if (!out) {
    // Redis between masters or PostgreSQL away: the next check tries again.
    spdlog::warn("stock rebuild for redis run_id {} failed: {}", run_id, out.error().message);
    co_return;
  }
  if (out->done_here && out->sales > 0) {
    spdlog::warn("redis master changed (run_id {}): {} sale(s) rebuilt from the ledger", run_id,
                 out->sales);
  } else if (out->done_here) {
    spdlog::info("redis master run_id {} recorded (no sale to rebuild)", run_id);
  }
}

FlashsaleService::FlashsaleService(ServiceConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

FlashsaleService::~FlashsaleService() { stop(); }

void FlashsaleService::start() {
  auto& d = *impl_;
  if (d.cfg.jwt_secret.empty()) throw std::runtime_error("a JWT secret is required");
  if (d.cfg.pg_conninfo.empty()) throw std::runtime_error("a PostgreSQL connection is required");
  d.runtime.start();
  if (d.cfg.gateway.any_layer()) {
    auto gc = d.cfg.gateway;
    // Every instance derives the same captcha_token key from the shared JWT secret.
    if (gc.captcha_secret.empty()) gc.captcha_secret = "captcha-token:" + d.cfg.jwt_secret;
    d.gateway = std::make_unique<gateway::Gateway>(std::move(gc), SystemClock::instance(),
                                                   &d.gateway_metrics, d.runtime.size());
  }
  if (d.cfg.insert_lanes > 0)
    d.insert_lanes = std::make_unique<reservation::InsertLanes>(d.cfg.insert_lanes);
  for (std::size_t i = 0; i < d.runtime.size(); ++i) d.build_worker(i);

  Worker* w0 = d.workers[0].get();
  if (d.cfg.migrate) {
    Status st = run_on(d.runtime.context(0), [w0]() { return apply_migrations(*w0->db); });
    if (!st) throw std::runtime_error("database migration failed: " + st.error().message);
  }
  run_on(d.runtime.context(0), [&d, w0]() { return d.refresh_catalog(*w0); });

  d.deps.jwt = &d.jwt;
  d.deps.registry = &d.registry;
  d.deps.reservation_metrics = &d.reservation_metrics;
  d.deps.notification_metrics = &d.notification_metrics;
  d.deps.clock = &SystemClock::instance();
  d.deps.gateway = d.gateway.get();
  d.router = api::build_router(d.deps);
  d.observer = std::make_unique<api::MetricsObserver>(d.router, d.http_metrics);
  http::ServerConfig sc;
  sc.address = d.cfg.bind;
  sc.port = d.cfg.http_port;
  sc.body_limit = d.cfg.body_limit;
  sc.header_timeout = d.cfg.header_timeout;
  sc.idle_timeout = d.cfg.idle_timeout;
  const http::Router* router = &d.router;
  d.server = std::make_unique<http::Server>(
      d.runtime, sc, [router](http::Request& req) { return router->dispatch(req); },
      d.observer.get());
  d.server->start();

  for (std::size_t i = 0; i < d.runtime.size(); ++i) d.start_lag_probe(i);
  d.start_loop(d.cfg.catalog_refresh, [&d](Worker& w) { return d.refresh_catalog(w); });
  d.start_loop(d.cfg.stock_refresh, [&d](Worker& w) { return d.refresh_stock(w); });
  d.start_loop(d.cfg.hold_sweep_interval, [&d](Worker& w) { return d.sweep_holds(w); });
  if (d.cfg.reconcile_on_master_change.value_or(d.cfg.redis_sentinel.enabled()))
    d.start_loop(d.cfg.reconcile_check, [&d](Worker& w) { return d.reconcile_stock(w); });
  d.started = true;
}

metrics::MetricsRegistry& FlashsaleService::registry() { return impl_->registry; }

std::uint16_t FlashsaleService::port() const { return impl_->server ? impl_->server->port() : 0; }

void FlashsaleService::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  if (d.server) d.server->stop(std::chrono::milliseconds{5000});
  if (d.started) {
    std::promise<void> cancelled;
    asio::post(d.runtime.context(0), [&d, &cancelled] {
      d.stopping = true;
      for (auto& t : d.loop_timers) t->cancel();
      cancelled.set_value();
    });
    cancelled.get_future().wait();
    for (int i = 0; i < 500 && d.loops_running.load() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  for (std::size_t i = 0; i < d.workers.size(); ++i) {
    std::promise<void> closed;
    Worker* w = d.workers[i].get();
    asio::post(d.runtime.context(i), [w, &closed] {
      w->redis->close();
      w->db->close();
      closed.set_value();
    });
    closed.get_future().wait();
  }
  d.runtime.abort();
  d.server.reset();
  d.loop_timers.clear();
  d.gateway.reset();  // its per-thread parts use the workers' Redis clients
  d.workers.clear();
}

}  // namespace fs::app
