#include "support/smtp_server.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "support/servers.hpp"

namespace fs::test {

namespace fsys = std::filesystem;
using namespace std::chrono_literals;

SmtpServer::SmtpServer() {
  port_ = stack::free_port();
  stack::ChildProcess::Options o;
  o.argv = {"/usr/bin/python3",
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            "127.0.0.1:" + std::to_string(port_),
            "-c",
            "aiosmtpd.handlers.Mailbox",
            (dir_.path() / "mail").string()};
  o.log_file = dir_.path() / "smtpd.log";
  auto p = stack::ChildProcess::spawn(o);
  if (!p) throw std::runtime_error("aiosmtpd: " + p.error().message);
  process_ = std::move(*p);
  if (!wait_until([&] { return stack::port_accepts_connections(port_); }, 15s))
    throw std::runtime_error("aiosmtpd did not start (is python3-aiosmtpd installed?)");
}

std::vector<Mail> SmtpServer::mails() const {
  std::vector<Mail> out;
  const auto inbox = dir_.path() / "mail" / "new";
  if (!fsys::exists(inbox)) return out;
  for (const auto& f : fsys::directory_iterator(inbox)) {
    std::ifstream in(f.path());
    std::string line;
    Mail m;
    bool body = false;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (body) {
        m.body += line + "\n";
        continue;
      }
      if (line.empty()) body = true;
      if (line.rfind("To: ", 0) == 0) m.to = line.substr(4);
      if (line.rfind("X-RcptTo: ", 0) == 0) m.rcpt = line.substr(10);
      if (line.rfind("Subject: ", 0) == 0) m.subject = line.substr(9);
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace fs::test
