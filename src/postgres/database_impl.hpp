#pragma once
#include <boost/asio/any_io_executor.hpp>

#include "postgres/database.hpp"

namespace fs::pg {

std::unique_ptr<Database> make_database(boost::asio::any_io_executor executor,
                                        DatabaseConfig config);

}  // namespace fs::pg
