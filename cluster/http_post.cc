#include "cluster/http_post.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hearth::cluster {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int MsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on `fd` until the deadline: false at the deadline or once `cancelled`
// says so (asked every 100 ms).
bool WaitFor(int fd, short events, Clock::time_point deadline, const std::function<bool()>& cancelled = {}) {
  for (;;) {
    if (cancelled && cancelled()) return false;
    pollfd p{fd, events, 0};
    const int left = MsLeft(deadline);
    const int n = ::poll(&p, 1, cancelled ? std::min(left, 100) : left);
    if (n > 0) return true;
    if (n == 0 && (!cancelled || left <= 100)) return false;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

StatusOr<HttpReply> PostHttp10(const std::string& host, int port, const std::string& path, const std::string& body,
                               std::chrono::milliseconds timeout, size_t max_reply_bytes,
                               const std::function<bool()>& cancelled) {
  const Clock::time_point deadline = Clock::now() + timeout;
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return Status::Unavailable(where + ": " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  int connected = -1;
  for (addrinfo* a = found; a != nullptr && connected < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      connected = fd;
      break;
    }
    int err = errno;
    if (err == EINPROGRESS && WaitFor(fd, POLLOUT, deadline)) {
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) {
        connected = fd;
        break;
      }
    }
    last = err == EINPROGRESS ? "connect timed out" : std::strerror(err);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (connected < 0) return Status::Unavailable(where + ": " + last);
  Fd fd(connected);

  const std::string request = "POST " + path + " HTTP/1.0\r\nHost: " + where +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && WaitFor(fd.get(), POLLOUT, deadline)) continue;
    return Status::Unavailable(where + ": " + (n < 0 ? std::strerror(errno) : "send timed out"));
  }
  std::string reply;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      reply.append(buf, static_cast<size_t>(n));
      if (reply.size() > max_reply_bytes) return Status::Corruption(where + ": answer larger than the limit");
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && WaitFor(fd.get(), POLLIN, deadline, cancelled)) continue;
    return Status::Unavailable(where + ": " + (errno == EAGAIN || errno == EWOULDBLOCK ? "no answer in time" : std::strerror(errno)));
  }
  // "HTTP/1.x NNN reason\r\n", headers, a blank line, the body.
  if (reply.size() < 12 || reply.compare(0, 7, "HTTP/1.") != 0 || reply[8] != ' ') {
    return Status::Corruption(where + ": not an HTTP answer");
  }
  HttpReply out;
  for (int i = 9; i < 12; ++i) {
    if (reply[i] < '0' || reply[i] > '9') return Status::Corruption(where + ": a malformed status line");
    out.status = out.status * 10 + (reply[i] - '0');
  }
  const size_t head_end = reply.find("\r\n\r\n");
  if (head_end == std::string::npos) return Status::Corruption(where + ": an answer without a body separator");
  out.body = reply.substr(head_end + 4);
  return out;
}

}  // namespace hearth::cluster
