// GET /v1/events end to end: the service, the outbox relay and the notifier as a worker process
// (app::EventWorkers, as `flashsale worker` runs it) over real Redis and PostgreSQL. A shopper's
// events arrive in order on her stream only; a reconnect with Last-Event-ID resumes without
// loss or repetition, on another service instance too.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/event_workers.hpp"
#include "app/service.hpp"
#include "domain/jwt.hpp"
#include "http/client.hpp"
#include "sse_client.hpp"
#include "stack/local_servers.hpp"
#include "support/run_coroutine.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

using namespace std::chrono_literals;
constexpr const char* kSecret = "sse-test-secret";

std::string token(const std::string& sub, const std::string& role = "") {
  auth::Claims c;
  c.sub = sub;
  c.exp = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count() +
          3600;
  c.role = role;
  return auth::sign_jwt(c, kSecret);
}

app::ServiceConfig service_config(const std::string& conninfo) {
  app::ServiceConfig c;
  c.http_port = 0;
  c.threads = 1;
  c.redis_port = shared_redis().port();
  c.pg_conninfo = conninfo;
  c.pg_connections_per_thread = 2;
  c.jwt_secret = kSecret;
  return c;
}

std::string psql(const std::string& conninfo, const std::string& sql) {
  auto r = stack::run_command({"psql", conninfo, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql});
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
  return r ? *r : "";
}

// What the saga does in its transactions: an outbox row for a user-facing event.
void emit(const std::string& conninfo, const std::string& type, const std::string& key,
          const std::string& user) {
  psql(conninfo,
       "INSERT INTO outbox (topic, event_key, event_type, payload) VALUES ('reservations', '" +
           key + "', '" + type + "', '{\"reservation_id\":\"" + key + "\",\"user_id\":\"" + user +
           "\"}')");
}

http::ClientResponse call(std::uint16_t port, const std::string& method, const std::string& target,
                          const std::string& tok, const std::string& body) {
  http::ClientRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
  req.headers.push_back({"Authorization", "Bearer " + tok});
  req.headers.push_back({"Content-Type", "application/json"});
  boost::asio::io_context io;
  auto conn = http::make_connection(io.get_executor(), {"127.0.0.1", port, 10s});
  auto r = run_coroutine(io, conn->send(std::move(req)));
  conn->close();
  return r ? *r : http::ClientResponse{};
}

std::vector<std::string> types_of(const std::vector<SseEvent>& es) {
  std::vector<std::string> out;
  for (const auto& e : es) out.push_back(e.type + ":" + e.data.substr(19, 6));
  return out;
}

// The threads of this process whose nice value is `nice` (/proc/self/task/*/stat, field 19).
int threads_with_nice(int nice) {
  int n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto after_comm = stat.rfind(')');
    if (after_comm == std::string::npos) continue;
    std::istringstream fields(stat.substr(after_comm + 2));  // field 3 (state) onwards
    std::string field;
    for (int i = 3; i <= 19 && fields >> field; ++i)
      if (i == 19 && field == std::to_string(nice)) ++n;
  }
  return n;
}

TEST(ServerSentEvents, OwnEventsInOrderAndResumeWithLastEventId) {
  const auto conninfo = fresh_database(shared_postgres());
  app::FlashsaleService a(service_config(conninfo));
  a.start();
  app::FlashsaleService b(service_config(conninfo));  // a second instance
  b.start();
  app::EventWorkersConfig wc;
  wc.redis_port = shared_redis().port();
  wc.pg_conninfo = conninfo;
  wc.streams.key_prefix = unique_name("sse") + ":";
  wc.relay.poll_interval = 10ms;
  wc.consumer_block = 200ms;
  app::EventWorkers workers(wc);
  workers.start();
  // The notifier (nobody waits for it) runs at a lower priority than the relay and the services.
  EXPECT_EQ(threads_with_nice(wc.background_nice), 1);

  const std::string alice = unique_name("alice"), bob = unique_name("bob");
  SseClient alice_stream(a.port(), token(alice));
  SseClient bob_stream(b.port(), token(bob));
  ASSERT_EQ(alice_stream.status(), 200) << alice_stream.raw();
  ASSERT_EQ(bob_stream.status(), 200);
  EXPECT_NE(alice_stream.raw().find("Content-Type: text/event-stream"), std::string::npos)
      << alice_stream.raw();

  // A real reservation: its reservation.created travels outbox -> relay -> notifier -> feed.
  const std::string product = unique_name("ssep");
  auto put = call(a.port(), "PUT", "/v1/admin/products/" + product, token("admin", "admin"),
                  R"({"name":"Phone","price_cents":100,"currency":"usd","stock":5,"shards":1,)"
                  R"("per_user_limit":1})");
  ASSERT_EQ(put.status, 200) << put.body;
  auto res = call(a.port(), "POST", "/v1/reservations", token(alice),
                  R"({"product_id":")" + product + R"(","quantity":1})");
  ASSERT_EQ(res.status, 201) << res.body;
  const auto rid =
      std::string(boost::json::parse(res.body).as_object().at("reservation_id").as_string());

  auto got = alice_stream.wait_events(1, 15s);
  ASSERT_EQ(got.size(), 1u) << alice_stream.raw();
  EXPECT_EQ(got[0].type, "reservation.created");
  auto first = boost::json::parse(got[0].data).as_object();
  EXPECT_EQ(first.at("reservation_id").as_string(), rid);
  EXPECT_EQ(first.at("user_id").as_string(), alice);

  // The saga's events for it, in order.
  emit(conninfo, "payment.succeeded", "k00001", alice);
  emit(conninfo, "order.confirmed", "k00002", alice);
  got = alice_stream.wait_events(3, 15s);
  ASSERT_EQ(got.size(), 3u) << alice_stream.raw();
  EXPECT_EQ(types_of(got)[1], "payment.succeeded:k00001");
  EXPECT_EQ(types_of(got)[2], "order.confirmed:k00002");
  EXPECT_TRUE(got[0].id < got[1].id || got[0].id.size() < got[1].id.size());

  // Bob saw nothing of it.
  EXPECT_TRUE(bob_stream.wait_events(1, 500ms).empty()) << bob_stream.raw();

  // Alice goes away; two more events happen meanwhile.
  alice_stream.close();
  const std::string seen = got[2].id;
  emit(conninfo, "payment.failed", "k00003", alice);
  emit(conninfo, "reservation.expired", "k00004", alice);
  emit(conninfo, "payment.failed", "k00005", bob);
  auto bob_got = bob_stream.wait_events(1, 15s);
  ASSERT_EQ(bob_got.size(), 1u);
  EXPECT_EQ(types_of(bob_got)[0], "payment.failed:k00005");

  // Resuming on the other instance with Last-Event-ID: exactly the two she missed.
  SseClient resumed(b.port(), token(alice), seen);
  auto missed = resumed.wait_events(2, 15s);
  ASSERT_EQ(missed.size(), 2u) << resumed.raw();
  EXPECT_EQ(types_of(missed)[0], "payment.failed:k00003");
  EXPECT_EQ(types_of(missed)[1], "reservation.expired:k00004");
  EXPECT_EQ(resumed.wait_events(3, 500ms).size(), 2u);  // nothing repeated or extra

  // Resuming from the first event: the four after it, none repeated, none skipped.
  SseClient from_first(a.port(), token(alice), got[0].id);
  auto rest = from_first.wait_events(4, 15s);
  ASSERT_EQ(rest.size(), 4u);
  EXPECT_EQ(rest[0].id, got[1].id);
  EXPECT_EQ(rest[1].id, got[2].id);
  EXPECT_EQ(rest[2].id, missed[0].id);
  EXPECT_EQ(rest[3].id, missed[1].id);

  // Bad requests.
  SseClient anonymous(a.port(), "");
  EXPECT_EQ(anonymous.status(), 401);
  SseClient bad_id(a.port(), token(alice), "not-an-id");
  EXPECT_EQ(bad_id.status(), 400);

  workers.stop();
  b.stop();
  a.stop();
}

}  // namespace
}  // namespace fs::test
