#include <openssl/evp.h>

#include <stdexcept>

#include "redis/redis_client.hpp"

namespace fs::redis {

namespace {

std::string sha1_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA1) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0F]);
  }
  return out;
}

}  // namespace

Script::Script(std::string src) : source(std::move(src)), sha1(sha1_hex(source)) {}

}  // namespace fs::redis
