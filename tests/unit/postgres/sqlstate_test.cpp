#include "postgres/sqlstate.hpp"

#include <gtest/gtest.h>

namespace fs::pg {
namespace {

TEST(SqlstateTest, UniqueViolation) {
  EXPECT_EQ(errc_from_sqlstate("23505"), Errc::unique_violation);
  // Other integrity violations are not retryable conflicts.
  EXPECT_EQ(errc_from_sqlstate("23503"), Errc::backend_error);
  EXPECT_EQ(errc_from_sqlstate("23502"), Errc::backend_error);
}

TEST(SqlstateTest, SerializationFailureAndDeadlock) {
  EXPECT_EQ(errc_from_sqlstate("40001"), Errc::serialization_failure);
  EXPECT_EQ(errc_from_sqlstate("40P01"), Errc::serialization_failure);
  EXPECT_EQ(errc_from_sqlstate("40002"), Errc::backend_error);
}

TEST(SqlstateTest, ConnectionClassAndShutdownAreUnavailable) {
  for (const char* state : {"08000", "08003", "08006", "08001", "08004", "08P01"}) {
    EXPECT_EQ(errc_from_sqlstate(state), Errc::unavailable) << state;
  }
  EXPECT_EQ(errc_from_sqlstate("57P01"), Errc::unavailable);  // admin_shutdown
  EXPECT_EQ(errc_from_sqlstate("57P02"), Errc::unavailable);  // crash_shutdown
  EXPECT_EQ(errc_from_sqlstate("57P03"), Errc::unavailable);  // cannot_connect_now
  EXPECT_EQ(errc_from_sqlstate("57P04"), Errc::backend_error);
  EXPECT_EQ(errc_from_sqlstate("57014"), Errc::backend_error);  // query_canceled
}

TEST(SqlstateTest, EverythingElseIsBackendError) {
  EXPECT_EQ(errc_from_sqlstate("42P01"), Errc::backend_error);  // undefined_table
  EXPECT_EQ(errc_from_sqlstate("42601"), Errc::backend_error);  // syntax_error
  EXPECT_EQ(errc_from_sqlstate(""), Errc::backend_error);
  EXPECT_EQ(errc_from_sqlstate("0"), Errc::backend_error);
}

TEST(SqlstateTest, MessageCarriesSqlstateAndText) {
  const Error error = error_from_sqlstate("42P01", "relation \"nope\" does not exist");
  EXPECT_EQ(error.code, Errc::backend_error);
  EXPECT_EQ(error.message, "42P01: relation \"nope\" does not exist");

  const Error dup = error_from_sqlstate("23505", "duplicate key");
  EXPECT_EQ(dup.code, Errc::unique_violation);
  EXPECT_EQ(dup.message, "23505: duplicate key");

  EXPECT_EQ(error_from_sqlstate("", "lost").message, "?????: lost");
}

}  // namespace
}  // namespace fs::pg
