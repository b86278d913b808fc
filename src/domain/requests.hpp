#pragma once
// Validation of client input (api.md). Everything a client sends is parsed here, strictly:
// wrong types, out-of-range numbers and oversized strings are Errc::invalid_request with a
// message that names the field, never echoing the raw input.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "domain/product.hpp"

namespace fs {

inline constexpr int kMaxQuantity = 1000;

struct ReservationRequest {
  std::string product_id;
  int quantity = 1;
  std::optional<std::string> payment_method;
  // Canonical form used to detect an Idempotency-Key reused with a different request.
  std::string fingerprint() const;
};

// The hot path's body: a flat object is read by a scanner without a DOM; any other body goes
// through Boost.JSON (detail::parse_reservation_request_dom). Same result either way.
Result<ReservationRequest> parse_reservation_request(std::string_view body);
namespace detail {
// For the tests and fuzzers that hold the two paths to the same answers.
Result<ReservationRequest> parse_reservation_request_dom(std::string_view body);
bool scans_flat(std::string_view body);  // whether the scanner, not the DOM, reads this body
}  // namespace detail

struct PayRequest {
  std::string payment_method;
};
Result<PayRequest> parse_pay_request(std::string_view body);

// POST /v1/captcha/{id}: {"answer": "..."} (1-32 characters).
struct CaptchaAnswerRequest {
  std::string answer;
};
Result<CaptchaAnswerRequest> parse_captcha_answer_request(std::string_view body);

// PUT /v1/admin/products/{id}: the product id comes from the path.
Result<Product> parse_product_request(std::string_view product_id, std::string_view body);

// Idempotency-Key: 1-255 visible ASCII characters.
bool valid_idempotency_key(std::string_view key) noexcept;
bool valid_payment_method(std::string_view pm) noexcept;

}  // namespace fs
