#include <pthread.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "app/cli/commands.hpp"
#include "common/clock.hpp"
#include "common/parse_int.hpp"
#include "domain/jwt.hpp"

namespace fs::cli {

sigset_t block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_termination(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

std::string secret_from_env_or(const std::string& configured) {
  if (const char* s = std::getenv("FLASHSALE_JWT_SECRET"); s && *s) return s;
  return configured;
}

std::string mint(const std::string& secret, const std::string& sub, bool admin,
                 std::int64_t ttl_seconds) {
  auth::Claims c;
  c.sub = sub;
  c.exp = std::chrono::duration_cast<std::chrono::seconds>(
              SystemClock::instance().now().time_since_epoch())
              .count() +
          ttl_seconds;
  if (admin) c.role = "admin";
  return auth::sign_jwt(c, secret);
}

bool split_host_port(const std::string& address, std::string& host, std::uint16_t& port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  int n = 0;
  if (!parse_int(std::string_view(address).substr(colon + 1), n) || n < 1 || n > 65535)
    return false;
  host = address.substr(0, colon);
  port = static_cast<std::uint16_t>(n);
  return true;
}

bool apply_sentinels(const std::string& list, const std::string& master_name,
                     redis::SentinelConfig& out) {
  if (list.empty()) return true;
  auto sentinels = redis::parse_address_list(list);
  if (!sentinels) {
    std::cerr << "--redis-sentinels: " << sentinels.error().message << "\n";
    return false;
  }
  out.sentinels = std::move(*sentinels);
  out.master_name = master_name;
  return true;
}

void add_event_worker_options(CLI::App& cmd, app::EventWorkersConfig& cfg) {
  cmd.add_option("--smtp-url", cfg.smtp.url, "SMTP server for e-mail notifications (smtp://h:p)");
  cmd.add_option("--smtp-from", cfg.smtp.from)->capture_default_str();
  cmd.add_option("--email-domain", cfg.notifier.email_domain, "Recipients: <user_id>@<domain>")
      ->capture_default_str();
  cmd.add_option("--partitions", cfg.streams.partitions, "Stream keys per topic")
      ->capture_default_str();
  cmd.add_option("--stream-prefix", cfg.streams.key_prefix, "Prefix of the event stream keys")
      ->capture_default_str();
  cmd.add_option("--notifier-nice", cfg.background_nice,
                 "Nice value of the notifier's thread (it yields the CPU to the request path "
                 "while it catches up after a burst; 0: the process's own)")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  cmd.add_option("--outbox-vacuum-after", cfg.relay.vacuum_after,
                 "The outbox relay runs VACUUM outbox once caught up after deleting this many "
                 "rows (0: leave it to autovacuum)")
      ->capture_default_str();
}

void add_service_options(CLI::App& cmd, app::ServiceConfig& cfg) {
  cmd.add_option("--bind", cfg.bind, "Address to listen on")->capture_default_str();
  cmd.add_option("--http-port", cfg.http_port, "HTTP port")->capture_default_str();
  cmd.add_option("--threads", cfg.threads, "I/O threads (one io_context each)")
      ->capture_default_str();
  cmd.add_option("--pg-connections", cfg.pg_connections_per_thread,
                 "PostgreSQL connections per I/O thread")
      ->capture_default_str();
  cmd.add_option("--body-limit", cfg.body_limit, "Request body limit in bytes")
      ->capture_default_str();
  cmd.add_option("--insert-lanes", cfg.insert_lanes,
                 "Reservation INSERT batches in flight per process, one per lane, lane s % N "
                 "batching ledger shard s; 0: one lane per I/O thread, for every shard")
      ->capture_default_str();
}

}  // namespace fs::cli
