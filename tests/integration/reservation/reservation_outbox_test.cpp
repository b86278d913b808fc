// reservation.created goes through the transactional outbox: every committed reservation has
// exactly one outbox row, written by the same statement (so it commits with it), carrying the
// reservation view with user_id; refused requests leave none.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <sstream>

#include "support/sale_fixture.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

TEST(ReservationOutbox, EveryCommittedReservationHasExactlyOneCreatedEvent) {
  auto& svc = shared_service();
  const std::string product = unique_name("outbox");
  svc.put_product(product, 150, 10, 1);
  std::vector<Call> calls;
  for (int u = 0; u < 600; ++u)
    calls.push_back({"POST",
                     "/v1/reservations",
                     user_token("ob-" + std::to_string(u)),
                     reservation_body(product),
                     {}});
  auto rs = race(svc.port(), calls, 64);
  std::map<std::string, boost::json::object> created;  // reservation id -> 201 body
  for (const auto& r : rs) {
    if (r.status != 201) continue;
    auto o = boost::json::parse(r.body).as_object();
    created[std::string(o.at("reservation_id").as_string())] = o;
  }
  ASSERT_EQ(created.size(), 150u) << rs.front().status << " " << rs.front().body;

  const auto out = svc.sql(
      "SELECT event_key || '|' || topic || '|' || event_type || '|' || payload FROM outbox "
      "WHERE payload::json->>'product_id' = '" +
      product + "' ORDER BY id");
  std::istringstream lines(out);
  std::string line;
  std::map<std::string, int> rows_per_key;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::size_t start = 0;
    for (int i = 0; i < 3; ++i) {
      auto bar = line.find('|', start);
      ASSERT_NE(bar, std::string::npos) << line;
      f.push_back(line.substr(start, bar - start));
      start = bar + 1;
    }
    f.push_back(line.substr(start));
    ++rows_per_key[f[0]];
    EXPECT_EQ(f[1], "reservations");
    EXPECT_EQ(f[2], "reservation.created");
    auto it = created.find(f[0]);
    ASSERT_NE(it, created.end()) << "an event for a reservation that was not acknowledged";
    auto payload = boost::json::parse(f[3]).as_object();
    EXPECT_EQ(payload.at("status").as_string(), "PENDING");
    EXPECT_EQ(payload.at("user_id"), it->second.at("user_id"));
    EXPECT_EQ(payload.at("reservation_id"), it->second.at("reservation_id"));
    EXPECT_EQ(payload.at("expires_at"), it->second.at("expires_at"));
  }
  EXPECT_EQ(rows_per_key.size(), 150u);
  for (const auto& [k, n] : rows_per_key) EXPECT_EQ(n, 1) << k;
}

}  // namespace
}  // namespace fs::test
