#pragma once
// Products (sales) in PostgreSQL.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <vector>

#include "common/result.hpp"
#include "domain/product.hpp"
#include "postgres/database.hpp"

namespace fs::catalog {

struct UpsertOutcome {
  Product product;                       // as stored, with its new generation
  std::int64_t previous_generation = 0;  // 0 when the product is new
};

class ProductStore {
 public:
  explicit ProductStore(pg::Database& db) : db_(db) {}

  // Creates or replaces a sale. Replacing bumps the generation and resets the allocation;
  // Errc::sale_in_progress while the current generation has PENDING or PAYING reservations.
  boost::asio::awaitable<Result<UpsertOutcome>> upsert(const Product& product);
  boost::asio::awaitable<Result<std::optional<Product>>> load(const std::string& product_id);
  boost::asio::awaitable<Result<std::vector<Product>>> load_all();

 private:
  pg::Database& db_;
};

// Maps a row of the products SELECT used here into a Product.
Result<Product> product_from_row(const pg::Rows& rows, std::size_t row);

}  // namespace fs::catalog
