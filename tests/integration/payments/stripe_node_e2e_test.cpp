// The official stripe npm client (tests/e2e/stripe-node) against the in-process simulator: proves
// the simulator speaks Stripe's wire format, not just our own client's dialect.
#include <gtest/gtest.h>

#include <filesystem>

#include "payments_test_support.hpp"
#include "stack/local_servers.hpp"

namespace fs::payments::testing {
namespace {

TEST(StripeNodeE2E, OfficialClientPassesAgainstTheSimulator) {
  const std::filesystem::path project =
      std::filesystem::path(FLASHSALE_SOURCE_DIR) / "tests" / "e2e" / "stripe-node";
  if (!std::filesystem::exists(project / "node_modules" / "stripe"))
    GTEST_SKIP() << project.string()
                 << "/node_modules is missing: run `npm ci --prefix tests/e2e/stripe-node`";
  std::vector<std::string> argv = {"/usr/bin/env", "SIM_PORT=" + std::to_string(simulator().port()),
                                   "node", "--test", project.string() + "/"};
  auto out = stack::run_command(argv, std::chrono::seconds{120});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_NE(out->find("# fail 0"), std::string::npos) << *out;
  EXPECT_NE(out->find("# pass 4"), std::string::npos) << *out;
}

}  // namespace
}  // namespace fs::payments::testing
