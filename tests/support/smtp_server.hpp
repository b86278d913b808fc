#pragma once
// A real SMTP server for tests: aiosmtpd (Debian python3-aiosmtpd) with its Mailbox handler,
// which stores every message it accepts in a Maildir (<scratch>/mail/new).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stack/local_servers.hpp"
#include "support/scratch_dir.hpp"

namespace fs::test {

struct Mail {
  std::string to, rcpt, subject, body;
};

class SmtpServer {
 public:
  SmtpServer();  // throws std::runtime_error when aiosmtpd does not start
  std::uint16_t port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // Every message received so far (headers To, X-RcptTo, Subject; the body).
  std::vector<Mail> mails() const;

 private:
  ScratchDir dir_{"flashsale-smtp"};
  std::uint16_t port_ = 0;
  std::unique_ptr<stack::ChildProcess> process_;
};

}  // namespace fs::test
