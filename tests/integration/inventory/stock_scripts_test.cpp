// The Lua scripts that own stock, run against a real redis-server.
#include "inventory/stock_scripts.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <string_view>

#include "domain/shard_walk.hpp"
#include "inventory/stock_keys.hpp"
#include "inventory/stock_shards.hpp"
#include "redis/redis_client_impl.hpp"
#include "support/run_coroutine.hpp"
#include "support/servers.hpp"

namespace fs::inventory {
namespace {
namespace asio = boost::asio;

class StockScripts : public ::testing::Test {
 protected:
  void SetUp() override {
    redis::ClientConfig cfg;
    cfg.port = test::shared_redis().port();
    client_ = redis::make_client(ctx_.get_executor(), cfg);
    shards_ = std::make_unique<StockShards>(*client_);
    product_.product_id = test::unique_name("lua");
    product_.generation = 1;
    product_.shards = 4;
    product_.stock_total = 8;
    product_.per_user_limit = 1;
  }
  void TearDown() override { client_->close(); }

  template <class F>
  auto run(F f) {
    return test::run_coroutine(ctx_, f());
  }
  Result<ReserveOutcome> reserve(const std::string& user, const std::string& id, int qty = 1) {
    return run([&]() { return shards_->reserve(product_, user, qty, id, 1000); });
  }
  // EVALSHA calls Redis has run so far (INFO commandstats).
  std::int64_t evalsha_calls() {
    auto info = run([&]() -> asio::awaitable<Result<redis::Reply>> {
      co_return co_await client_->command("INFO", "commandstats");
    });
    EXPECT_TRUE(info.ok());
    if (!info.ok()) return 0;
    const std::string key = "cmdstat_evalsha:calls=";
    const auto at = info->str.find(key);
    return at == std::string::npos ? 0 : std::stoll(info->str.substr(at + key.size()));
  }
  std::vector<std::int64_t> levels() {
    auto l = run([&]() { return shards_->levels(product_); });
    EXPECT_TRUE(l.ok());
    return l.ok() ? *l : std::vector<std::int64_t>{};
  }

  asio::io_context ctx_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<StockShards> shards_;
  Product product_;
};

TEST_F(StockScripts, CheckAndDecrNeverGoesBelowZero) {
  StockKeys keys(product_.product_id, 1);
  auto set = run([&]() {
    std::vector<std::string> c{"SET", keys.shard(0), "2"};
    return client_->command(std::move(c));
  });
  ASSERT_TRUE(set.ok());
  std::vector<long long> got;
  for (int i = 0; i < 4; ++i) {
    auto r = run([&]() {
      std::vector<std::string> k{keys.shard(0)};
      std::vector<std::string> a{"1"};
      return client_->eval(check_and_decr_script(), std::move(k), std::move(a));
    });
    ASSERT_TRUE(r.ok());
    got.push_back(r->integer);
  }
  EXPECT_EQ(got, (std::vector<long long>{1, 0, -1, -1}));
}

TEST_F(StockScripts, InitializeSplitsStockOverShards) {
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  EXPECT_EQ(levels(), (std::vector<std::int64_t>{2, 2, 2, 2}));
}

TEST_F(StockScripts, ReserveStartsAtTheUsersShardAndFallsThrough) {
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  const std::string user = "walker";
  const int first = first_shard(user, 4);
  // Empty the user's own shard: the walk must fall through to the next one.
  StockKeys keys(product_.product_id, 1);
  ASSERT_TRUE(run([&]() {
                std::vector<std::string> c{"SET", keys.shard(first), "0"};
                return client_->command(std::move(c));
              }).ok());
  auto r = reserve(user, "r-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, ReserveOutcome::Kind::reserved);
  EXPECT_EQ(r->shard, (first + 1) % 4);
  auto l = levels();
  EXPECT_EQ(l[static_cast<std::size_t>((first + 1) % 4)], 1);
}

TEST_F(StockScripts, PerUserLimitIsCheckedInTheSameScript) {
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  EXPECT_EQ(reserve("u1", "a")->kind, ReserveOutcome::Kind::reserved);
  EXPECT_EQ(reserve("u1", "b")->kind, ReserveOutcome::Kind::limit_exceeded);
  EXPECT_EQ(reserve("u2", "c", 2)->kind, ReserveOutcome::Kind::limit_exceeded);
  auto l = levels();
  EXPECT_EQ(l[0] + l[1] + l[2] + l[3], 7);
}

// The click's numbers travel as one "terms" argument; anything but five unsigned numbers (the
// gate 0 or 1) is refused by the script before it touches a key.
TEST_F(StockScripts, ReserveTermsAreCheckedBeforeAnyKeyIsTouched) {
  char terms[kReserveTermsMax];
  EXPECT_EQ(std::string_view(terms, reserve_terms(terms, 2, 5, true, 3, 10)), "2:5:1:3:10");
  EXPECT_EQ(std::string_view(terms, reserve_terms(terms, 1, 1, false, 0, 1)), "1:1:0:0:1");
  // The widest terms fill the buffer exactly: 4 x 20 characters, the gate, 4 colons.
  EXPECT_EQ(reserve_terms(terms, INT64_MIN, INT64_MIN, true, INT64_MIN, INT64_MIN),
            kReserveTermsMax);

  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  StockKeys keys(product_.product_id, 1);
  for (const std::string bad : {"1:1:0:0", "1:1:2:0:4", "-1:1:0:0:4", "1:1:0:0:4:9", "x", ""}) {
    auto r = run([&]() {
      std::vector<std::string> k{keys.users()};
      std::vector<std::string> a{bad, "id-" + bad, "mallory", "1000"};
      return client_->eval(reserve_script(), std::move(k), std::move(a));
    });
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("malformed terms"), std::string::npos) << r.error().message;
  }
  auto l = levels();
  EXPECT_EQ(l[0] + l[1] + l[2] + l[3], 8);
  auto holds = run([&]() { return shards_->holds(product_); });
  ASSERT_TRUE(holds.ok());
  EXPECT_TRUE(holds->empty());
}

TEST_F(StockScripts, SoldOutWhenEveryShardIsEmpty) {
  product_.stock_total = 3;
  product_.per_user_limit = 100;
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  int reserved = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = reserve("u" + std::to_string(i), "id" + std::to_string(i));
    ASSERT_TRUE(r.ok());
    if (r->kind == ReserveOutcome::Kind::reserved) {
      ++reserved;
    } else {
      EXPECT_EQ(r->kind, ReserveOutcome::Kind::sold_out);
    }
  }
  EXPECT_EQ(reserved, 3);
  for (auto v : levels()) EXPECT_EQ(v, 0);
}

TEST_F(StockScripts, ReleaseReturnsUnitsExactlyOnce) {
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  auto r = reserve("u1", "rel-1");
  ASSERT_EQ(r->kind, ReserveOutcome::Kind::reserved);
  int shard = r->shard;
  for (int i = 0; i < 3; ++i) {
    auto rel = run([&]() -> asio::awaitable<Result<bool>> {
      co_return co_await shards_->release(product_, "u1", shard, 1, "rel-1");
    });
    ASSERT_TRUE(rel.ok());
    EXPECT_EQ(*rel, i == 0);  // only the first release returns the unit
  }
  auto l = levels();
  EXPECT_EQ(l[0] + l[1] + l[2] + l[3], 8);
  // The user's count went back too: they may reserve again.
  EXPECT_EQ(reserve("u1", "rel-2")->kind, ReserveOutcome::Kind::reserved);
}

TEST_F(StockScripts, HoldsAreRecordedCommittedAndConsumed) {
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  ASSERT_EQ(reserve("u1", "h-1")->kind, ReserveOutcome::Kind::reserved);
  ASSERT_EQ(reserve("u2", "h-2")->kind, ReserveOutcome::Kind::reserved);
  EXPECT_TRUE(*run([&]() -> asio::awaitable<Result<bool>> {
    co_return co_await shards_->commit_hold(product_, "h-1");
  }));
  auto holds = run([&]() { return shards_->holds(product_); });
  ASSERT_TRUE(holds.ok());
  ASSERT_EQ(holds->size(), 2u);
  for (const auto& h : *holds) {
    EXPECT_EQ(h.state, h.reservation_id == "h-1" ? 'c' : 'h');
    EXPECT_EQ(h.quantity, 1);
    EXPECT_EQ(h.taken_at_ms, 1000);
  }
  EXPECT_TRUE(*run([&]() -> asio::awaitable<Result<bool>> {
    co_return co_await shards_->consume_hold(product_, "h-2");
  }));
  // A consumed hold cannot be released: its unit never returns.
  EXPECT_FALSE(*run([&]() -> asio::awaitable<Result<bool>> {
    co_return co_await shards_->release(product_, "u2", 0, 1, "h-2");
  }));
}

// The crash sweep reads the unsettled index, not the holds hash: only holds in state h, taken at
// or before the cut-off, oldest first, at most the limit; commit, release and consume take a
// hold out of it; an index entry whose hold is gone is dropped when read.
TEST_F(StockScripts, UnsettledHoldsAreIndexedUntilSettled) {
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  auto reserve_at = [&](const std::string& user, const std::string& id, std::int64_t at) {
    return run([&]() { return shards_->reserve(product_, user, 1, id, at); });
  };
  ASSERT_EQ(reserve_at("u1", "s-1", 1000)->kind, ReserveOutcome::Kind::reserved);
  const auto second = reserve_at("u2", "s-2", 2000);
  ASSERT_EQ(second->kind, ReserveOutcome::Kind::reserved);
  ASSERT_EQ(reserve_at("u3", "s-3", 3000)->kind, ReserveOutcome::Kind::reserved);
  ASSERT_EQ(reserve_at("u4", "s-4", 4000)->kind, ReserveOutcome::Kind::reserved);
  ASSERT_EQ(reserve_at("u5", "s-5", 9000)->kind, ReserveOutcome::Kind::reserved);
  auto unsettled = [&](std::int64_t before, std::size_t limit) {
    auto r = run([&]() { return shards_->unsettled_holds(product_, before, limit); });
    EXPECT_TRUE(r.ok());
    std::vector<std::string> ids;
    for (const auto& h : *r) {
      EXPECT_EQ(h.state, 'h');
      ids.push_back(h.reservation_id);
    }
    return ids;
  };
  EXPECT_EQ(unsettled(4000, 100), (std::vector<std::string>{"s-1", "s-2", "s-3", "s-4"}));
  EXPECT_EQ(unsettled(4000, 2), (std::vector<std::string>{"s-1", "s-2"}));
  EXPECT_TRUE(*run([&]() -> asio::awaitable<Result<bool>> {
    co_return co_await shards_->commit_hold(product_, "s-1");
  }));
  EXPECT_TRUE(*run([&]() -> asio::awaitable<Result<bool>> {
    co_return co_await shards_->release(product_, "u2", second->shard, 1, "s-2");
  }));
  EXPECT_TRUE(*run([&]() -> asio::awaitable<Result<bool>> {
    co_return co_await shards_->consume_hold(product_, "s-3");
  }));
  EXPECT_EQ(unsettled(10000, 100), (std::vector<std::string>{"s-4", "s-5"}));
  // s-4's hold disappears behind the index's back: the read drops the stale entry.
  StockKeys keys(product_.product_id, product_.generation);
  auto hdel = run([&]() -> asio::awaitable<Result<redis::Reply>> {
    co_return co_await client_->command("HDEL", keys.holds(), "s-4");
  });
  ASSERT_TRUE(hdel.ok());
  EXPECT_EQ(unsettled(10000, 100), (std::vector<std::string>{"s-5"}));
  auto card = run([&]() -> asio::awaitable<Result<redis::Reply>> {
    co_return co_await client_->command("ZCARD", keys.unsettled());
  });
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(card->integer, 1);
}

// The 201s of one insert batch resume together; their hold marks go out in one script call
// once the thread gets to the posted flush.
// reserve_batch must answer each click exactly as reserve would, run for each in turn: the same
// pairs, the same counters and holds afterwards. Two sales get the same clicks, one through
// reserve_batch in one call, the other through reserve one by one; the clicks cover a take, a
// repeated user (limit), a quantity over the limit, the walk falling through, and stock
// running out within the batch.
TEST_F(StockScripts, ReserveBatchAnswersEachClickAsReserveInTurn) {
  product_.stock_total = 5;
  product_.per_user_limit = 2;
  Product twin = product_;
  twin.product_id = product_.product_id + "-twin";
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  ASSERT_TRUE(run([&]() { return shards_->initialize(twin, 0); }).ok());
  struct Click {
    std::string user;
    int qty;
  };
  const std::vector<Click> clicks{{"ann", 1}, {"bob", 2}, {"ann", 1}, {"ann", 1}, {"cat", 3},
                                  {"dan", 1}, {"eve", 2}, {"fay", 1}, {"gus", 1}};
  auto args_of = [&](const Product& p, std::size_t i) {
    char terms[kReserveTermsMax];
    const auto n = reserve_terms(terms, clicks[i].qty, p.per_user_limit, false,
                                 first_shard(clicks[i].user, p.shards), p.shards);
    return std::vector<std::string>{std::string(terms, n), "id-" + std::to_string(i),
                                    clicks[i].user, std::to_string(1000 + i)};
  };
  std::vector<std::string> batch_args;
  for (std::size_t i = 0; i < clicks.size(); ++i)
    for (auto& a : args_of(product_, i)) batch_args.push_back(a);
  auto batch = run([&]() {
    std::vector<std::string> k{StockKeys(product_.product_id, 1).users()};
    return client_->eval(reserve_batch_script(), std::move(k), batch_args);
  });
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->elements.size(), 2 * clicks.size());
  auto text = [](const redis::Reply& r) {
    return r.type == redis::Reply::Type::integer ? std::to_string(r.integer) : r.str;
  };
  std::vector<std::string> batched, one_by_one;
  for (std::size_t i = 0; i < clicks.size(); ++i) {
    batched.push_back(text(batch->elements[2 * i]) + "/" + text(batch->elements[2 * i + 1]));
    auto single = run([&]() {
      std::vector<std::string> k{StockKeys(twin.product_id, 1).users()};
      return client_->eval(reserve_script(), std::move(k), args_of(twin, i));
    });
    ASSERT_TRUE(single.ok()) << single.error().message;
    one_by_one.push_back(text(single->elements[0]) + "/" + text(single->elements[1]));
  }
  EXPECT_EQ(batched, one_by_one);
  // Not a vacuous agreement: takes, limits and sold-outs all happened.
  const auto count = [&](std::string_view what) {
    return std::count_if(batched.begin(), batched.end(),
                         [&](const std::string& b) { return b.find(what) != std::string::npos; });
  };
  EXPECT_EQ(std::count_if(batched.begin(), batched.end(),
                          [](const std::string& b) { return b.starts_with("1/"); }),
            5);
  EXPECT_GE(count("limit"), 2);
  EXPECT_GE(count("sold_out"), 1);
  auto twin_levels = run([&]() { return shards_->levels(twin); });
  ASSERT_TRUE(twin_levels.ok());
  EXPECT_EQ(levels(), *twin_levels);
  auto holds = run([&]() { return shards_->holds(product_); });
  auto twin_holds = run([&]() { return shards_->holds(twin); });
  ASSERT_TRUE(holds.ok() && twin_holds.ok());
  auto records = [](std::vector<Hold> hs) {
    std::vector<std::string> out;
    for (const auto& h : hs) out.push_back(h.reservation_id + "=" + hold_record(h));
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(records(*holds), records(*twin_holds));
  EXPECT_EQ(holds->size(), 5u);
}

// A batch with one malformed click is refused whole, before any key is touched; a paused sale
// answers paused to every click.
TEST_F(StockScripts, ReserveBatchChecksEveryClickFirstAndHonoursThePause) {
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  StockKeys keys(product_.product_id, 1);
  auto eval_batch = [&](std::vector<std::string> args) {
    return run([&]() {
      std::vector<std::string> k{keys.users()};
      return client_->eval(reserve_batch_script(), std::move(k), std::move(args));
    });
  };
  auto bad = eval_batch(
      {"1:1:0:0:4", "a", "u1", "1", "1:1:0:1:4", "b", "u2", "1", "1:x:0:0:4", "c", "u3", "1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("malformed terms"), std::string::npos);
  auto ragged = eval_batch({"1:1:0:0:4", "a", "u1"});
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.error().message.find("malformed batch"), std::string::npos);
  auto l = levels();
  EXPECT_EQ(l[0] + l[1] + l[2] + l[3], 8);
  auto holds = run([&]() { return shards_->holds(product_); });
  ASSERT_TRUE(holds.ok());
  EXPECT_TRUE(holds->empty());

  ASSERT_TRUE(run([&]() { return shards_->pause(product_, std::chrono::seconds{5}); }).ok());
  auto paused = eval_batch({"1:1:0:0:4", "a", "u1", "1", "1:1:0:1:4", "b", "u2", "1"});
  ASSERT_TRUE(paused.ok()) << paused.error().message;
  ASSERT_EQ(paused->elements.size(), 4u);
  EXPECT_EQ(paused->elements[1].str, "paused");
  EXPECT_EQ(paused->elements[3].str, "paused");
  l = levels();
  EXPECT_EQ(l[0] + l[1] + l[2] + l[3], 8);
}

// Clicks that reach StockShards together go to Redis together: 60 coroutines on one thread
// reserve at once for 25 units, and Redis sees one reserve_batch call (plus, at most, the
// script's first load), with exactly 25 takes among the answers.
TEST_F(StockScripts, ClicksQueuedTogetherShareOneScriptCall) {
  product_.stock_total = 25;
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  const auto before = evalsha_calls();
  constexpr int kClicks = 60;
  std::vector<Result<ReserveOutcome>> outcomes(kClicks, Error{Errc::internal, "not run"});
  for (int i = 0; i < kClicks; ++i) {
    asio::co_spawn(
        ctx_,
        [&, i]() -> asio::awaitable<void> {
          outcomes[static_cast<std::size_t>(i)] = co_await shards_->reserve(
              product_, "crowd-" + std::to_string(i), 1, "id-" + std::to_string(i), 1000);
        },
        asio::detached);
  }
  ctx_.restart();
  ctx_.run_for(std::chrono::seconds{5});
  int reserved = 0, sold_out = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.ok()) << o.error().message;
    if (o->kind == ReserveOutcome::Kind::reserved) ++reserved;
    if (o->kind == ReserveOutcome::Kind::sold_out) ++sold_out;
  }
  EXPECT_EQ(reserved, 25);
  EXPECT_EQ(sold_out, kClicks - 25);
  EXPECT_LE(evalsha_calls() - before, 2);
  for (auto v : levels()) EXPECT_EQ(v, 0);
}

TEST_F(StockScripts, CommitMarksAskedTogetherShareOneCall) {
  ASSERT_TRUE(run([&]() { return shards_->initialize(product_, 0); }).ok());
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(reserve("b" + std::to_string(i), "b-" + std::to_string(i))->kind,
              ReserveOutcome::Kind::reserved);
  // Loads the script, so that the count below is one call, not a NOSCRIPT retry.
  EXPECT_FALSE(*run([&]() -> asio::awaitable<Result<bool>> {
    co_return co_await shards_->commit_hold(product_, "none");
  }));
  const auto before = evalsha_calls();
  for (int i = 0; i < 3; ++i)
    shards_->commit_hold_soon(ctx_.get_executor(), product_, "b-" + std::to_string(i));
  ctx_.restart();
  ctx_.run_for(std::chrono::milliseconds{500});
  EXPECT_EQ(evalsha_calls() - before, 1);
  auto holds = run([&]() { return shards_->holds(product_); });
  ASSERT_TRUE(holds.ok());
  ASSERT_EQ(holds->size(), 3u);
  for (const auto& h : *holds) EXPECT_EQ(h.state, 'c') << h.reservation_id;
  EXPECT_TRUE(run([&]() { return shards_->unsettled_holds(product_, 1'000'000, 10); })->empty());
}

TEST(HoldRecord, Parses) {
  Hold h;
  ASSERT_TRUE(parse_hold("id", "c|3|2|user-1|1700000000000", h));
  EXPECT_EQ(h.state, 'c');
  EXPECT_EQ(h.shard, 3);
  EXPECT_EQ(h.quantity, 2);
  EXPECT_EQ(h.user_id, "user-1");
  EXPECT_EQ(h.taken_at_ms, 1700000000000);
  EXPECT_FALSE(parse_hold("id", "x|3|2|u|1", h));
  EXPECT_FALSE(parse_hold("id", "h|3|2|u", h));
  EXPECT_FALSE(parse_hold("id", "h|a|2|u|1", h));
}

}  // namespace
}  // namespace fs::inventory
