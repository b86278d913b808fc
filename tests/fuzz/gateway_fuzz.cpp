// The gateway's parsers of client-controlled headers (gateway/bot_scorer.cpp, client_ip.cpp):
// X-Client-Signals (base64 of JSON), the User-Agent checks, addresses and CIDRs, and
// X-Forwarded-For resolution. Properties: no crash; a parsed address prints and re-parses to
// itself; the resolved client is always either the peer or an address that parses; a client
// cannot hide behind
// what it writes left of the address our proxy appended.
#include <string>

#include "fuzz_check.hpp"
#include "gateway/bot_scorer.hpp"
#include "gateway/client_ip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fs::fuzz::as_text(data, size);
  using fs::gateway::IpAddress;

  (void)fs::gateway::parse_client_signals(text);
  (void)fs::gateway::headless_user_agent(text);
  (void)fs::gateway::script_user_agent(text);
  if (auto decoded = fs::gateway::decode_base64_any(text)) FUZZ_CHECK(decoded->size() <= size);

  if (auto ip = IpAddress::parse(text)) {
    const std::string printed = ip->to_string();
    auto again = IpAddress::parse(printed);
    FUZZ_CHECK(again && *again == *ip);
  }
  (void)fs::gateway::Cidr::parse(text);

  // Behind the trusted proxy 10.0.0.1, X-Forwarded-For is the input.
  static const auto resolver = *fs::gateway::ClientIpResolver::from_strings({"10.0.0.0/8"});
  const std::string client = resolver.resolve("10.0.0.1:443", text);
  auto parsed = IpAddress::parse(client);
  FUZZ_CHECK(parsed.has_value());
  // The proxy appends the address it saw: when that last entry is outside our network it is
  // the answer, whatever the client wrote to its left.
  const std::size_t comma = text.rfind(',');
  const auto last =
      IpAddress::parse(comma == std::string_view::npos ? text : text.substr(comma + 1));
  if (last && !resolver.trusted(*last)) FUZZ_CHECK(client == last->to_string());
  // From an untrusted peer the header counts for nothing.
  FUZZ_CHECK(resolver.resolve("203.0.113.9:5555", text) == "203.0.113.9");
  return 0;
}
