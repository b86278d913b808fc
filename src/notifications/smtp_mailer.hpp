#pragma once
// E-mail over SMTP with libcurl. send() blocks (libcurl easy interface): call it only from the
// Notifier's mail thread, never from an I/O thread.
#include <chrono>
#include <string>

#include "common/result.hpp"

namespace fs::notifications {

struct SmtpConfig {
  std::string url;  // "smtp://host:port" (or smtps://); empty: e-mail disabled
  std::string from = "flashsale@localhost";
  std::string username;  // optional AUTH
  std::string password;
  std::chrono::milliseconds timeout{10'000};
};

struct Email {
  std::string to;
  std::string subject;
  std::string body;  // plain text
};

class SmtpMailer {
 public:
  explicit SmtpMailer(SmtpConfig config);
  // Errc::unavailable when the server cannot be reached or refuses the message (retryable),
  // Errc::invalid_request for a recipient or subject that cannot be put in a header.
  Status send(const Email& email) const;

 private:
  SmtpConfig config_;
};

// The RFC 5322 message libcurl uploads (headers, blank line, CRLF-normalised body).
std::string format_message(const SmtpConfig& config, const Email& email, std::string_view date,
                           std::string_view message_id);

}  // namespace fs::notifications
