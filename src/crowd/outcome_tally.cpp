#include "crowd/outcome_tally.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <tuple>

namespace fs::crowd {

void OutcomeTally::add(int status, std::string_view code, std::uint64_t n) {
  for (auto& o : outcomes_) {
    if (o.status == status && o.code == code) {
      o.count += n;
      return;
    }
  }
  outcomes_.push_back(Outcome{status, std::string(code), n});
}

void OutcomeTally::merge(const OutcomeTally& other) {
  for (const auto& o : other.outcomes_) add(o.status, o.code, o.count);
}

std::uint64_t OutcomeTally::total() const {
  std::uint64_t t = 0;
  for (const auto& o : outcomes_) t += o.count;
  return t;
}

std::uint64_t OutcomeTally::count_status(int status) const {
  std::uint64_t t = 0;
  for (const auto& o : outcomes_)
    if (o.status == status) t += o.count;
  return t;
}

std::uint64_t OutcomeTally::count(int status, std::string_view code) const {
  for (const auto& o : outcomes_)
    if (o.status == status && o.code == code) return o.count;
  return 0;
}

std::vector<Outcome> OutcomeTally::sorted() const {
  auto out = outcomes_;
  std::sort(out.begin(), out.end(), [](const Outcome& a, const Outcome& b) {
    return std::tie(a.status, a.code) < std::tie(b.status, b.code);
  });
  return out;
}

std::string error_code_of(std::string_view body) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(boost::json::string_view(body.data(), body.size()), ec);
  if (ec) return {};
  const auto* root = v.if_object();
  if (root == nullptr) return {};
  const auto* error = root->if_contains("error");
  if (error == nullptr || !error->is_object()) return {};
  const auto* code = error->get_object().if_contains("code");
  if (code == nullptr || !code->is_string()) return {};
  return std::string(code->get_string());
}

}  // namespace fs::crowd
