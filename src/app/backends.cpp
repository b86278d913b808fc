#include "app/backends.hpp"

#include "postgres/database_impl.hpp"
#include "redis/redis_client_impl.hpp"

namespace fs::app {

std::unique_ptr<redis::Client> connect_redis(boost::asio::any_io_executor executor,
                                             std::string host, std::uint16_t port,
                                             const redis::SentinelConfig& sentinel,
                                             std::chrono::milliseconds command_timeout) {
  redis::ClientConfig rc;
  rc.host = std::move(host);
  rc.port = port;
  rc.sentinel = sentinel;
  rc.command_timeout = command_timeout;
  return redis::make_client(std::move(executor), rc);
}

std::unique_ptr<pg::Database> connect_postgres(boost::asio::any_io_executor executor,
                                               std::string conninfo, std::size_t connections,
                                               std::chrono::milliseconds query_timeout) {
  pg::DatabaseConfig dc;
  dc.conninfo = std::move(conninfo);
  dc.connections = connections;
  dc.query_timeout = query_timeout;
  return pg::make_database(std::move(executor), dc);
}

}  // namespace fs::app
