#pragma once
// A minimal blocking SSE client for tests: HTTP/1.0 (close-delimited body, no chunking), frames
// parsed as they arrive.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace fs::test {

struct SseEvent {
  std::string id, type, data;
};

class SseClient {
 public:
  SseClient(std::uint16_t port, const std::string& token, const std::string& last_event_id = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    std::string req = "GET /v1/events HTTP/1.0\r\nHost: x\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    if (!last_event_id.empty()) req += "Last-Event-ID: " + last_event_id + "\r\n";
    req += "\r\n";
    (void)!::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
  }
  ~SseClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // The status line's code once the head arrived (0 if it did not within `timeout`).
  int status(std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (head_end_ == std::string::npos && std::chrono::steady_clock::now() < until) fill();
    if (head_end_ == std::string::npos || buf_.size() < 12) return 0;
    return std::stoi(buf_.substr(9, 3));
  }
  const std::string& raw() const { return buf_; }

  // Waits until `n` events arrived (or `timeout`); returns all events so far.
  std::vector<SseEvent> wait_events(std::size_t n, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (events_.size() < n && std::chrono::steady_clock::now() < until && fill()) {
    }
    return events_;
  }

 private:
  // Reads what is there (waiting up to 100 ms); false once the peer closed.
  bool fill() {
    if (fd_ < 0) return false;
    timeval tv{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char tmp[4096];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n == 0) return false;
    if (n > 0) buf_.append(tmp, static_cast<std::size_t>(n));
    if (head_end_ == std::string::npos) {
      head_end_ = buf_.find("\r\n\r\n");
      if (head_end_ == std::string::npos) return true;
      pos_ = head_end_ + 4;
    }
    for (;;) {
      auto end = buf_.find("\n\n", pos_);
      if (end == std::string::npos) break;
      std::string frame = buf_.substr(pos_, end - pos_);
      pos_ = end + 2;
      SseEvent e;
      std::size_t start = 0;
      while (start <= frame.size()) {
        auto nl = frame.find('\n', start);
        std::string line = frame.substr(start, nl == std::string::npos ? nl : nl - start);
        if (line.rfind("id: ", 0) == 0) e.id = line.substr(4);
        if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
        if (line.rfind("data: ", 0) == 0) e.data += line.substr(6);
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      if (!e.type.empty()) events_.push_back(std::move(e));
    }
    return true;
  }

  int fd_ = -1;
  std::string buf_;
  std::size_t head_end_ = std::string::npos;
  std::size_t pos_ = 0;
  std::vector<SseEvent> events_;
};

}  // namespace fs::test
