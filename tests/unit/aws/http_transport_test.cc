// The Beast transport against a one-shot loopback server (plain POSIX sockets, no Asio here).
#include "aws/http_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "common/strings.h"

namespace tp::aws {
namespace {

using namespace std::chrono_literals;

// Listens on 127.0.0.1:<ephemeral>; serves one connection with `serve` on a thread.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(int fd)> serve) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listen_fd_, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, serve = std::move(serve)] {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      serve(fd);
      ::close(fd);
    });
  }
  ~OneShotServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Reads one HTTP request (headers and a Content-Length body).
std::string read_request(int fd) {
  std::string data;
  char buf[4096];
  size_t want = std::string::npos;
  while (data.size() < want) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
    size_t end = data.find("\r\n\r\n");
    if (end != std::string::npos && want == std::string::npos) {
      size_t body = 0;
      std::string lower = to_lower(data.substr(0, end));
      if (size_t cl = lower.find("content-length:"); cl != std::string::npos)
        body = std::stoul(lower.substr(cl + 15));
      want = end + 4 + body;
    }
  }
  return data;
}

void send_all(int fd, const std::string& s) {
  ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
}

TEST(HttpTransport, PlainHttpExchange) {
  std::string seen;
  OneShotServer server([&](int fd) {
    seen = read_request(fd);
    send_all(fd,
             "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Test: yes\r\nConnection: close\r\n\r\nhello");
  });
  auto transport = make_http_transport();
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/path?x=1";
  auto res = transport->send({"POST", url, {{"X-Custom", "v"}}, "a=b"}, 2000ms);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "hello");
  EXPECT_EQ(find_header(res->headers, "x-test"), "yes");
  EXPECT_TRUE(starts_with(seen, "POST /path?x=1 HTTP/1.1\r\n")) << seen;
  EXPECT_NE(seen.find("Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"), std::string::npos)
      << seen;
  EXPECT_NE(seen.find("X-Custom: v\r\n"), std::string::npos);
  EXPECT_NE(seen.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_TRUE(ends_with(seen, "\r\n\r\na=b"));
}

TEST(HttpTransport, TimesOutOnASilentServer) {
  OneShotServer server([](int fd) {
    char c;
    ::recv(fd, &c, 1, 0);
    while (::recv(fd, &c, 1, 0) > 0) {
    }  // until the client gives up and closes
  });
  auto transport = make_http_transport();
  auto start = std::chrono::steady_clock::now();
  auto res =
      transport->send({"GET", "http://127.0.0.1:" + std::to_string(server.port()) + "/", {}, ""}, 300ms);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().message.find("timed out"), std::string::npos) << res.error().message;
  EXPECT_LT(elapsed, 2s);
}

TEST(HttpTransport, ConnectionRefused) {
  uint16_t port;
  {
    OneShotServer server([](int) {});
    port = server.port();
    // Connect once so the server thread finishes; afterwards nothing listens on the port.
    auto t = make_http_transport();
    (void)t->send({"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, ""}, 500ms);
  }
  auto res =
      make_http_transport()->send({"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, ""}, 1000ms);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().message.find("connecting"), std::string::npos) << res.error().message;
}

TEST(HttpTransport, HttpsToAPlainServerFailsInTheHandshake) {
  OneShotServer server([](int fd) {
    char buf[512];
    ::recv(fd, buf, sizeof buf, 0);  // the ClientHello
    send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  });
  auto res = make_http_transport()->send(
      {"GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/", {}, ""}, 2000ms);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("TLS handshake"), std::string::npos) << res.error().message;
}

TEST(HttpTransport, BadUrl) {
  auto res = make_http_transport()->send({"GET", "ftp://x/", {}, ""}, 100ms);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tp::aws
