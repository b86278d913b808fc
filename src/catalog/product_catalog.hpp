#pragma once
// The products this instance serves, cached in memory and shared by all I/O threads so the hot
// path never queries PostgreSQL for a known product. A background refresh (every second) picks
// up sales created on other instances; unknown ids are looked up once and remembered as absent
// for a second, so random ids cannot hammer the database. Known products are read from a
// per-thread copy (common/per_thread_cache.hpp), each with its own reference count, so a lookup
// writes nothing the other threads share.
#include <chrono>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "common/per_thread_cache.hpp"
#include "domain/product.hpp"

namespace fs::catalog {

class ProductCatalog {
 public:
  explicit ProductCatalog(const Clock& clock,
                          std::chrono::milliseconds negative_ttl = std::chrono::seconds{1})
      : clock_(clock), negative_ttl_(negative_ttl) {}

  enum class Lookup { found, absent, unknown };
  // found: *out is set; absent: known not to exist (recently); unknown: ask the store.
  Lookup find(const std::string& product_id, std::shared_ptr<const Product>* out) const;

  void put(Product product);
  void put_absent(const std::string& product_id);
  void replace_all(std::vector<Product> products);
  std::vector<std::shared_ptr<const Product>> all() const;

 private:
  struct Entry {
    std::shared_ptr<const Product> product;  // null: known absent
    std::int64_t absent_until_ns = 0;
  };
  // A thread's copy of the known products: the Product objects are copied too, so the
  // shared_ptrs a lookup hands out count references on this thread only.
  using Known = std::unordered_map<std::string, std::shared_ptr<const Product>>;

  const Clock& clock_;
  std::chrono::milliseconds negative_ttl_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  PerThreadCache<Known> known_;
};

}  // namespace fs::catalog
