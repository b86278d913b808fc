// Request-body validation (domain/requests.cpp): every shopper and admin body goes through
// these parsers. The first byte picks the parser, the rest is the body. Properties: no crash;
// what is accepted satisfies api.md's rules (so nothing out of range reaches the stock or the
// ledger); errors are invalid_request with a short, fixed message that never echoes the input.
#include <string>

#include "domain/requests.hpp"
#include "fuzz_check.hpp"

namespace {

template <typename T>
void check_error(const fs::Result<T>& r, std::string_view body) {
  if (r) return;
  FUZZ_CHECK(r.code() == fs::Errc::invalid_request);
  const std::string& m = r.error().message;
  FUZZ_CHECK(!m.empty() && m.size() <= 200);
  for (unsigned char c : m) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
  // Our messages hold no braces or quotes: a body with one is input, never to be echoed.
  if (body.size() >= 16 && body.find_first_of("{\"") != std::string_view::npos)
    FUZZ_CHECK(m.find(body) == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body = fs::fuzz::as_text(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto r = fs::parse_reservation_request(body);
      check_error(r, body);
      // The flat scanner and Boost.JSON give the same answer to every body (the scanner takes
      // only bodies whose answer it is sure of, and hands the rest to the DOM).
      auto dom = fs::detail::parse_reservation_request_dom(body);
      FUZZ_CHECK(r.ok() == dom.ok());
      if (r && dom) {
        FUZZ_CHECK(r->product_id == dom->product_id);
        FUZZ_CHECK(r->quantity == dom->quantity);
        FUZZ_CHECK(r->payment_method == dom->payment_method);
      } else if (!r && !dom) {
        FUZZ_CHECK(r.code() == dom.code());
        FUZZ_CHECK(r.error().message == dom.error().message);
      }
      if (r) {
        FUZZ_CHECK(fs::fuzz::api_identifier(r->product_id));
        FUZZ_CHECK(r->quantity >= 1 && r->quantity <= fs::kMaxQuantity);
        if (r->payment_method) FUZZ_CHECK(fs::valid_payment_method(*r->payment_method));
        // The idempotency fingerprint tells different requests apart.
        fs::ReservationRequest other = *r;
        other.quantity = r->quantity == 1 ? 2 : 1;
        FUZZ_CHECK(other.fingerprint() != r->fingerprint());
      }
      break;
    }
    case 1: {
      auto r = fs::parse_pay_request(body);
      check_error(r, body);
      if (r) FUZZ_CHECK(fs::valid_payment_method(r->payment_method));
      break;
    }
    case 2: {
      auto r = fs::parse_captcha_answer_request(body);
      check_error(r, body);
      if (r) FUZZ_CHECK(!r->answer.empty() && r->answer.size() <= 32);
      break;
    }
    default: {
      // The product id comes from the URL path: its first bytes, up to a '|'.
      const std::size_t bar = body.find('|');
      const std::string_view id =
          bar == std::string_view::npos ? "fuzz-product" : body.substr(0, bar);
      const std::string_view rest = bar == std::string_view::npos ? body : body.substr(bar + 1);
      auto r = fs::parse_product_request(id, rest);
      check_error(r, rest);
      if (r) {
        FUZZ_CHECK(fs::fuzz::api_identifier(r->product_id));
        FUZZ_CHECK(!r->name.empty() && r->name.size() <= 200);
        FUZZ_CHECK(r->price_cents >= 0);
        FUZZ_CHECK(r->currency.size() == 3);
        FUZZ_CHECK(r->stock_total >= 0);
        FUZZ_CHECK(r->per_user_limit >= 1 && r->per_user_limit <= fs::kMaxQuantity);
        FUZZ_CHECK(r->shards >= 1 && r->shards <= 256);
        FUZZ_CHECK(r->reservation_ttl_seconds >= 1);
        if (r->sale_starts_at && r->sale_ends_at) FUZZ_CHECK(*r->sale_ends_at > *r->sale_starts_at);
      }
      break;
    }
  }
  return 0;
}
