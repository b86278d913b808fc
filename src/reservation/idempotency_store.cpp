#include "reservation/idempotency_store.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <charconv>

namespace fs::reservation {
namespace {

const redis::Script& claim_script() {
  // KEYS[1]=record, ARGV[1]=fingerprint, ARGV[2]=in-flight TTL (s). Returns the existing record,
  // or nil after claiming.
  static const redis::Script s{R"LUA(
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], 'P|' .. ARGV[1], 'EX', ARGV[2])
return false
)LUA"};
  return s;
}

std::string record_key(const std::string& scope, const std::string& key) {
  std::string k = "fs:idem:{";
  k.append(scope).append("}:").append(key);
  return k;
}

// "D|<fp>|<status>|<body>": the final answer to the key's first request.
std::string done_record(const std::string& fp, int status, const std::string& body) {
  std::string v = "D|";
  v.append(fp).push_back('|');
  v.append(std::to_string(status)).push_back('|');
  v.append(body);
  return v;
}

}  // namespace

std::string fingerprint_hash(const std::string& canonical) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char c : md) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0F]);
  }
  return out;
}

boost::asio::awaitable<Result<IdempotencyClaim>> IdempotencyStore::claim(const std::string& scope,
                                                                         const std::string& key,
                                                                         const std::string& fp) {
  std::vector<std::string> keys{record_key(scope, key)};
  std::vector<std::string> args{fp, std::to_string(in_flight_ttl_.count())};
  auto r = co_await redis_.eval(claim_script(), std::move(keys), std::move(args));
  if (!r) co_return std::move(r).error();
  if (r->is_nil()) co_return IdempotencyClaim{IdempotencyClaim::Kind::claimed, 0, {}};
  const std::string& v = r->str;
  // "P|<fp>" in flight; "D|<fp>|<status>|<body>" done.
  if (v.size() < 2 + fp.size() || v.compare(2, fp.size(), fp) != 0)
    co_return IdempotencyClaim{IdempotencyClaim::Kind::mismatch, 0, {}};
  if (v[0] == 'P') co_return IdempotencyClaim{IdempotencyClaim::Kind::in_flight, 0, {}};
  std::size_t pos = 2 + fp.size() + 1;
  std::size_t bar = v.find('|', pos);
  int status = 0;
  if (v[0] != 'D' || bar == std::string::npos ||
      std::from_chars(v.data() + pos, v.data() + bar, status).ec != std::errc{})
    co_return Error{Errc::protocol_error, "malformed idempotency record"};
  co_return IdempotencyClaim{IdempotencyClaim::Kind::replay, status, v.substr(bar + 1)};
}

boost::asio::awaitable<Status> IdempotencyStore::complete(const std::string& scope,
                                                          const std::string& key,
                                                          const std::string& fp, int status,
                                                          const std::string& body) {
  std::vector<std::string> cmd{"SET", record_key(scope, key), done_record(fp, status, body), "EX",
                               std::to_string(keep_.count())};
  auto r = co_await redis_.command(std::move(cmd));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

boost::asio::awaitable<Status> IdempotencyStore::restore(const std::string& scope,
                                                         const std::string& key,
                                                         const std::string& fp, int status,
                                                         const std::string& body,
                                                         std::chrono::seconds ttl) {
  std::vector<std::string> cmd{"SET",
                               record_key(scope, key),
                               done_record(fp, status, body),
                               "EX",
                               std::to_string(std::max<std::int64_t>(1, ttl.count())),
                               "NX"};
  auto r = co_await redis_.command(std::move(cmd));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

boost::asio::awaitable<Status> IdempotencyStore::release(const std::string& scope,
                                                         const std::string& key) {
  std::vector<std::string> cmd{"DEL", record_key(scope, key)};
  auto r = co_await redis_.command(std::move(cmd));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

}  // namespace fs::reservation
