#include "stack/readiness.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <thread>

namespace fs::stack::detail {

bool redis_ready(std::uint16_t port, pid_t pid, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    static constexpr char kProbe[] = "PING\r\nINFO server\r\n";
    constexpr auto kProbeLen = static_cast<ssize_t>(sizeof kProbe - 1);
    if (::send(fd, kProbe, kProbeLen, MSG_NOSIGNAL) == kProbeLen) {
      const std::string pid_field = "\r\nprocess_id:" + std::to_string(pid) + "\r\n";
      std::string reply;
      char buf[4096];
      // INFO server is well below 64 KiB; stop at the field or when the server stops talking.
      while (reply.find(pid_field) == std::string::npos && reply.size() < 65536) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        reply.append(buf, static_cast<std::size_t>(n));
      }
      ok = reply.rfind("+PONG\r\n", 0) == 0 && reply.find(pid_field) != std::string::npos;
    }
  }
  ::close(fd);
  return ok;
}

std::string log_tail(const std::filesystem::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "(no log at " + file.string() + ")";
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(in.tellg());
  std::size_t from = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(size - from, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

Status wait_until_ready(ChildProcess& child, const std::function<bool()>& ready,
                        std::chrono::milliseconds timeout, const std::string& what,
                        const std::filesystem::path& log) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (ready()) return {};
    if (!child.running()) {
      return Error{Errc::unavailable,
                   what + " exited during start-up; log " + log.string() + ":\n" + log_tail(log)};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{Errc::timeout, what + " not ready after " + std::to_string(timeout.count()) +
                                      " ms; log " + log.string() + ":\n" + log_tail(log)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
}

bool wait_until_port_closed(std::uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (port_accepts_connections(port)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

}  // namespace fs::stack::detail
