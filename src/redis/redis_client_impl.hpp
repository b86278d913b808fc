#pragma once
#include <boost/asio/any_io_executor.hpp>

#include "redis/redis_client.hpp"

namespace fs::redis {

// Creates a client that connects lazily (and reconnects with exponential backoff + jitter).
std::unique_ptr<Client> make_client(boost::asio::any_io_executor executor, ClientConfig config);

}  // namespace fs::redis
