#include <string>

#include "app/migrations.hpp"
#include "postgres/database.hpp"

namespace fs::app {

// Migrations must be idempotent (IF NOT EXISTS): two instances starting together may both find
// a version missing; the advisory lock serialises them and the second one changes nothing.
boost::asio::awaitable<Status> apply_migrations(pg::Database& db) {
  auto st = co_await db.execute_script(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
      "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  if (!st) co_return st;
  for (const auto& m : migrations()) {
    std::vector<pg::Param> version{std::to_string(m.version)};
    auto seen =
        co_await db.query("SELECT 1 FROM schema_migrations WHERE version = $1", std::move(version));
    if (!seen) co_return std::move(seen).error();
    if (!seen->empty()) continue;
    std::string script = "BEGIN; SELECT pg_advisory_xact_lock(7311); ";
    script.append(m.sql);
    script.append("; INSERT INTO schema_migrations (version, name) VALUES (" +
                  std::to_string(m.version) + ", '" + std::string(m.name) +
                  "') ON CONFLICT DO NOTHING; COMMIT;");
    auto applied = co_await db.execute_script(script);
    if (!applied) co_return applied;
  }
  co_return Status{};
}

}  // namespace fs::app
