#include "domain/product.hpp"

namespace fs {

std::string_view to_string(SaleState s) noexcept {
  switch (s) {
    case SaleState::upcoming:
      return "UPCOMING";
    case SaleState::live:
      return "LIVE";
    case SaleState::sold_out:
      return "SOLD_OUT";
    case SaleState::ended:
      return "ENDED";
  }
  return "LIVE";
}

SaleState Product::state(SysTime now, std::int64_t available) const {
  if (sale_starts_at && now < *sale_starts_at) return SaleState::upcoming;
  if (sale_ends_at && now >= *sale_ends_at) return SaleState::ended;
  return available > 0 ? SaleState::live : SaleState::sold_out;
}

bool valid_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace fs
