#include "catalog/product_catalog.hpp"

#include <mutex>

namespace fs::catalog {

ProductCatalog::Lookup ProductCatalog::find(const std::string& product_id,
                                            std::shared_ptr<const Product>* out) const {
  const Known& known = known_.get([this](Known& copy) {
    std::shared_lock lock(mu_);
    for (const auto& [id, e] : entries_)
      if (e.product) copy.emplace(id, std::make_shared<const Product>(*e.product));
  });
  if (auto it = known.find(product_id); it != known.end()) {
    *out = it->second;
    return Lookup::found;
  }
  // Not a known product: an id seen recently as absent, or one to ask the store about.
  std::shared_lock lock(mu_);
  auto it = entries_.find(product_id);
  if (it == entries_.end()) return Lookup::unknown;
  if (it->second.product) {
    *out = it->second.product;
    return Lookup::found;
  }
  return clock_.steady_ns() < it->second.absent_until_ns ? Lookup::absent : Lookup::unknown;
}

void ProductCatalog::put(Product product) {
  auto p = std::make_shared<const Product>(std::move(product));
  std::unique_lock lock(mu_);
  auto& e = entries_[p->product_id];
  // Never go back to an older generation (a slow refresh racing a replace on this instance).
  if (e.product && e.product->generation > p->generation) return;
  // The refresh puts every product again each second: only a change is news to the readers.
  const bool changed = !e.product || !(*e.product == *p);
  e.product = std::move(p);
  e.absent_until_ns = 0;
  if (changed) known_.invalidate();
}

void ProductCatalog::put_absent(const std::string& product_id) {
  std::unique_lock lock(mu_);
  // Bound the memory an id-guessing client can make us spend.
  if (entries_.size() > 100000) {
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->second.product ? std::next(it) : entries_.erase(it);
  }
  auto& e = entries_[product_id];
  if (e.product) return;
  e.absent_until_ns = clock_.steady_ns() +
                      std::chrono::duration_cast<std::chrono::nanoseconds>(negative_ttl_).count();
}

void ProductCatalog::replace_all(std::vector<Product> products) {
  for (auto& p : products) put(std::move(p));
}

std::vector<std::shared_ptr<const Product>> ProductCatalog::all() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const Product>> out;
  for (const auto& [id, e] : entries_)
    if (e.product) out.push_back(e.product);
  return out;
}

}  // namespace fs::catalog
