#pragma once
// The Redis client and PostgreSQL pool of one worker thread, built the same way by every worker
// role (saga/sweeper units, event roles). With sentinels enabled, host/port are ignored.
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "postgres/database.hpp"
#include "redis/redis_client.hpp"

namespace fs::app {

std::unique_ptr<redis::Client> connect_redis(boost::asio::any_io_executor executor,
                                             std::string host, std::uint16_t port,
                                             const redis::SentinelConfig& sentinel,
                                             std::chrono::milliseconds command_timeout);
std::unique_ptr<pg::Database> connect_postgres(boost::asio::any_io_executor executor,
                                               std::string conninfo, std::size_t connections,
                                               std::chrono::milliseconds query_timeout);

}  // namespace fs::app
