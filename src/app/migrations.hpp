#pragma once
// Schema migrations embedded from migrations/*.sql, applied in version order at start-up.
#include <boost/asio/awaitable.hpp>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fs::pg {
class Database;
}

namespace fs::app {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& migrations();

// Applies the migrations not yet recorded in schema_migrations, each in its own transaction,
// under an advisory lock so that several instances starting at once do not race.
boost::asio::awaitable<Status> apply_migrations(pg::Database& db);

}  // namespace fs::app
