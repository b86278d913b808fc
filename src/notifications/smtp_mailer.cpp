#include "notifications/smtp_mailer.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <mutex>

#include "common/random.hpp"

namespace fs::notifications {

namespace {

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t read_cb(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  auto* up = static_cast<Upload*>(userdata);
  const std::size_t room = size * nitems;
  const std::size_t n = std::min(room, up->data->size() - up->offset);
  std::copy_n(up->data->data() + up->offset, n, buffer);
  up->offset += n;
  return n;
}

bool header_safe(std::string_view s) { return s.find_first_of("\r\n") == std::string_view::npos; }

std::string rfc5322_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string format_message(const SmtpConfig& config, const Email& email, std::string_view date,
                           std::string_view message_id) {
  std::string m;
  m += "Date: " + std::string(date) + "\r\n";
  m += "From: <" + config.from + ">\r\n";
  m += "To: <" + email.to + ">\r\n";
  m += "Message-ID: <" + std::string(message_id) + ">\r\n";
  m += "Subject: " + email.subject + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n";
  m += "\r\n";
  for (std::size_t i = 0; i < email.body.size(); ++i) {
    const char c = email.body[i];
    if (c == '\n' && (i == 0 || email.body[i - 1] != '\r')) m += '\r';
    m += c;
  }
  if (m.size() < 2 || m.compare(m.size() - 2, 2, "\r\n") != 0) m += "\r\n";
  return m;
}

SmtpMailer::SmtpMailer(SmtpConfig config) : config_(std::move(config)) { global_init(); }

Status SmtpMailer::send(const Email& email) const {
  if (!header_safe(email.to) || !header_safe(email.subject) || email.to.empty())
    return Error{Errc::invalid_request, "recipient or subject not usable in a header"};
  const auto domain = config_.from.substr(config_.from.find('@') + 1);
  const std::string message = format_message(config_, email, rfc5322_date(),
                                             SecureRandom::instance().hex(12) + "@" + domain);
  CURL* curl = curl_easy_init();
  if (!curl) return Error{Errc::internal, "curl_easy_init failed"};
  Upload up{&message};
  curl_slist* rcpt = curl_slist_append(nullptr, ("<" + email.to + ">").c_str());
  const std::string from = "<" + config_.from + ">";
  curl_easy_setopt(curl, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(curl, CURLOPT_READDATA, &up);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  if (!config_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.password.c_str());
  }
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return Error{Errc::unavailable, curl_easy_strerror(rc)};
  return Status{};
}

}  // namespace fs::notifications
