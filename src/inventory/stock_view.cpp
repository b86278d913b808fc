#include "inventory/stock_view.hpp"

namespace fs::inventory {

StockView::Entry* StockView::find(std::string_view product_id) const {
  const Index& index = index_.get([this](Index& copy) {
    std::shared_lock lock(mu_);
    for (const auto& [id, e] : entries_) copy.emplace(id, e.get());
  });
  auto it = index.find(product_id);
  return it == index.end() ? nullptr : it->second;
}

StockView::Entry& StockView::get_or_create(std::string_view product_id) {
  if (auto* e = find(product_id)) return *e;
  std::unique_lock lock(mu_);
  auto it = entries_.find(product_id);
  if (it == entries_.end()) {
    it = entries_.emplace(std::string(product_id), std::make_unique<Entry>()).first;
    index_.invalidate();
  }
  return *it->second;
}

bool StockView::known_sold_out(std::string_view product_id, std::int64_t generation) const {
  auto* e = find(product_id);
  return e && e->generation.load(std::memory_order_relaxed) == generation &&
         e->sold_out.load(std::memory_order_acquire);
}

void StockView::mark_sold_out(std::string_view product_id, std::int64_t generation) {
  auto& e = get_or_create(product_id);
  if (e.generation.load() != generation) {
    e.generation.store(generation);
    e.available.store(-1);
  }
  e.sold_out.store(true, std::memory_order_release);
}

void StockView::update_available(std::string_view product_id, std::int64_t generation,
                                 std::int64_t available) {
  auto& e = get_or_create(product_id);
  e.generation.store(generation);
  e.available.store(available);
  if (available > 0) e.sold_out.store(false, std::memory_order_release);
}

void StockView::stock_returned(std::string_view product_id, std::int64_t generation) {
  auto* e = find(product_id);
  if (e && e->generation.load() == generation) e->sold_out.store(false, std::memory_order_release);
}

std::optional<std::int64_t> StockView::available(std::string_view product_id,
                                                 std::int64_t generation) const {
  auto* e = find(product_id);
  if (!e || e->generation.load() != generation) return std::nullopt;
  auto v = e->available.load();
  if (v < 0) return std::nullopt;
  return v;
}

void StockView::forget(std::string_view product_id) {
  std::unique_lock lock(mu_);
  auto it = entries_.find(product_id);
  if (it != entries_.end()) {
    // Entries are never freed while threads may hold a pointer: reset instead.
    it->second->generation.store(0);
    it->second->sold_out.store(false);
    it->second->available.store(-1);
  }
}

}  // namespace fs::inventory
