// What comes back from the payment provider, and form bodies (payments/): a provider reply is
// as untrusted as a client request (a proxy, a bug, or an attacker between us and it).
// Properties: no crash; a 2xx that is not a well-formed intent is an error, never a success
// that could mark a reservation PAID; form encoding round-trips.
#include <string>

#include "fuzz_check.hpp"
#include "payments/form_encoding.hpp"
#include "payments/stripe_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static const int kStatuses[] = {200, 201, 400, 401, 402, 404, 409, 429, 500, 502, 503, 302};
  const int status = kStatuses[data[0] % std::size(kStatuses)];
  const std::string_view body = fs::fuzz::as_text(data + 1, size - 1);

  auto intent = fs::payments::interpret_payment_intent_reply(status, body);
  if (intent && !intent->declined) {
    FUZZ_CHECK(status >= 200 && status < 300);
    FUZZ_CHECK(!intent->id.empty() && !intent->status.empty());
  }
  if (intent && intent->declined) FUZZ_CHECK(status == 402);
  auto refund = fs::payments::interpret_refund_reply(status, body);
  if (refund) FUZZ_CHECK(status >= 200 && status < 300 && !refund->id.empty());

  if (auto form = fs::payments::decode_form(body)) {
    // Re-encoding what was decoded decodes to the same fields.
    auto again = fs::payments::decode_form(fs::payments::encode_form(*form));
    FUZZ_CHECK(again && *again == *form);
  }
  const std::string encoded = fs::payments::percent_encode(body);
  auto decoded = fs::payments::percent_decode(encoded);
  FUZZ_CHECK(decoded && *decoded == body);
  return 0;
}
