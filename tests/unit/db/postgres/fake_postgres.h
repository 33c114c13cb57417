// A small PostgreSQL server for engine tests: SSLRequest then TLS, a
// cleartext password login, BackendKeyData 4242/777, and a few queries:
//   "sleep"      runs until a CancelRequest with that key arrives (-> 57014)
//   "big N"      N DataRows of 1000 bytes
//   "terminate"  a FATAL 57P01, then the server closes the connection
//   anything     one DataRow echoing the text
// Extended-protocol messages get their completions; Sync gets ReadyForQuery.
#pragma once

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <mutex>

#include "net/server.h"
#include "net/tls.h"
#include "protocol/postgres/backend_messages.h"
#include "protocol/postgres/framer.h"
#include "protocol/postgres/frontend_messages.h"
#include "protocol/postgres/startup.h"
#include "unit/protocol_postgres/wire_bytes.h"
#include "unit/tunnel/test_pki.h"

namespace tp::testing {

class FakePostgres {
 public:
  static constexpr int32_t kPid = 4242;
  static constexpr int32_t kSecret = 777;

  FakePostgres(boost::asio::io_context& io, const KeyPair& cert, std::string password)
      : io_(io), password_(std::move(password)) {
    auto ctx = net::make_server_context({cert.cert_pem, cert.key_pem});
    if (!ctx.ok()) throw std::runtime_error(ctx.error().message);
    ctx_ = std::make_unique<boost::asio::ssl::context>(std::move(*ctx));
    auto acceptor = net::listen_tcp(io, {"127.0.0.1", 0});
    if (!acceptor.ok()) throw std::runtime_error(acceptor.error().message);
    acceptor_ = std::make_unique<net::tcp::acceptor>(std::move(*acceptor));
    boost::asio::co_spawn(io, accept_loop(), boost::asio::detached);
  }

  uint16_t port() const { return acceptor_->local_endpoint().port(); }

  struct Startup {
    std::string user, database, application_name;
  };
  std::vector<Startup> startups() {
    std::lock_guard lock(mu_);
    return startups_;
  }
  std::vector<std::pair<int32_t, int32_t>> cancels() {
    std::lock_guard lock(mu_);
    return cancels_;
  }
  int open_sessions() const { return open_; }

 private:
  using TlsStream = net::TlsStream;
  static constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

  boost::asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_->async_accept(boost::asio::make_strand(io_), kTuple);
      if (ec) co_return;
      auto executor = socket.get_executor();
      boost::asio::co_spawn(executor, serve(std::move(socket)), boost::asio::detached);
    }
  }

  template <class Stream>
  static boost::asio::awaitable<bool> read_more(Stream& s, std::string& buf) {
    char chunk[16384];
    auto [ec, n] = co_await s.async_read_some(boost::asio::buffer(chunk), kTuple);
    if (ec) co_return false;
    buf.append(chunk, n);
    co_return true;
  }

  static boost::asio::awaitable<bool> send(TlsStream& s, const std::string& bytes) {
    auto [ec, n] = co_await boost::asio::async_write(s, boost::asio::buffer(bytes), kTuple);
    co_return !ec;
  }

  static std::string data_row(std::string_view value) {
    return pg::test::msg(
        'D', pg::test::be16(1) + pg::test::be32(static_cast<uint32_t>(value.size())) + std::string(value));
  }

  boost::asio::awaitable<void> serve(net::tcp::socket socket) {
    std::string buf;
    while (true) {  // the first packet arrives unencrypted
      auto size = pg::frame_startup_packet(buf);
      if (!size.ok()) co_return;
      if (*size) break;
      if (!co_await read_more(socket, buf)) co_return;
    }
    auto first = pg::parse_startup_packet(buf);
    if (!first.ok()) co_return;
    if (auto* cancel = std::get_if<pg::CancelRequest>(&*first)) {
      std::lock_guard lock(mu_);
      cancels_.push_back({cancel->process_id, cancel->secret_key});
      if (cancel->process_id == kPid && cancel->secret_key == kSecret) cancel_flag_ = true;
      co_return;
    }
    if (!std::holds_alternative<pg::SslRequest>(*first)) co_return;
    std::string yes = pg::encode_ssl_response(true);
    co_await boost::asio::async_write(socket, boost::asio::buffer(yes), kTuple);
    TlsStream tls(std::move(socket), *ctx_);
    if (!co_await net::tls_handshake(tls, boost::asio::ssl::stream_base::server, std::chrono::seconds(5)))
      co_return;
    ++open_;
    co_await session(tls);
    --open_;
  }

  boost::asio::awaitable<void> session(TlsStream& tls) {
    std::string buf;
    while (true) {
      auto size = pg::frame_startup_packet(buf);
      if (!size.ok()) co_return;
      if (*size) {
        auto packet = pg::parse_startup_packet(std::string_view(buf).substr(0, *size));
        buf.erase(0, *size);
        if (!packet.ok() || !std::holds_alternative<pg::StartupMessage>(*packet)) co_return;
        const auto& m = std::get<pg::StartupMessage>(*packet);
        std::lock_guard lock(mu_);
        startups_.push_back({m.user(), m.parameter("database"), m.parameter("application_name")});
        break;
      }
      if (!co_await read_more(tls, buf)) co_return;
    }
    if (!co_await send(tls, pg::encode_authentication_cleartext_password())) co_return;
    bool authenticated = false;
    while (true) {
      auto frame = pg::frame_message(buf);
      if (!frame.ok()) co_return;
      if (!*frame) {
        if (!co_await read_more(tls, buf)) co_return;
        continue;
      }
      char type = (*frame)->type;
      std::string payload((*frame)->payload);
      buf.erase(0, (*frame)->total_size());
      if (!authenticated) {
        auto pw = pg::parse_password_message(payload);
        if (type != 'p' || !pw.ok() || pw->password != password_) {
          pg::ErrorReport e{"FATAL", pg::sqlstate::kInvalidPassword,
                            "password authentication failed for user", "", ""};
          co_await send(tls, pg::encode_error_response(e));
          co_return;
        }
        authenticated = true;
        std::string hello = pg::encode_authentication_ok() +
                            pg::encode_parameter_status("server_version", "15.0") +
                            pg::encode_parameter_status("client_encoding", "UTF8") +
                            pg::encode_backend_key_data(kPid, kSecret) +
                            pg::encode_ready_for_query(pg::TransactionStatus::kIdle);
        if (!co_await send(tls, hello)) co_return;
        continue;
      }
      std::string out;
      switch (type) {
        case 'Q': {
          std::string text = payload.substr(0, payload.find('\0'));
          if (text == "sleep") {
            boost::asio::steady_timer t(co_await boost::asio::this_coro::executor);
            for (int i = 0; i < 1000 && !cancel_flag_; ++i) {
              t.expires_after(std::chrono::milliseconds(10));
              co_await t.async_wait(kTuple);
            }
            if (cancel_flag_.exchange(false)) {
              out = pg::encode_error_response(
                  {"ERROR", pg::sqlstate::kQueryCanceled, "canceling statement due to user request", "", ""});
            } else {
              out = pg::encode_command_complete("SELECT 1");
            }
          } else if (text == "terminate") {  // as pg_terminate_backend: a FATAL, then the server hangs up
            // Named: GCC 12 double-destroys a temporary in a co_await expression.
            const pg::ErrorReport e{"FATAL", pg::sqlstate::kAdminShutdown,
                                    "terminating connection due to administrator command", "", ""};
            const std::string last_words = pg::encode_error_response(e);
            co_await send(tls, last_words);
            co_return;
          } else if (text.rfind("big ", 0) == 0) {
            int rows = std::stoi(text.substr(4));
            std::string row = data_row(std::string(1000, 'r'));
            for (int i = 0; i < rows; ++i) {
              out += row;
              if (out.size() > 256 * 1024) {
                if (!co_await send(tls, out)) co_return;
                out.clear();
              }
            }
            out += pg::encode_command_complete("SELECT " + std::to_string(rows));
          } else {
            out = data_row(text) + pg::encode_command_complete("SELECT 1");
          }
          out += pg::encode_ready_for_query(pg::TransactionStatus::kIdle);
          break;
        }
        case 'P':
          out = pg::test::msg('1', "");
          break;
        case 'B':
          out = pg::test::msg('2', "");
          break;
        case 'E':
          out = pg::encode_command_complete("SELECT 0");
          break;
        case 'S':
          out = pg::encode_ready_for_query(pg::TransactionStatus::kIdle);
          break;
        case 'X':
          co_return;
        default:
          break;
      }
      if (!out.empty() && !co_await send(tls, out)) co_return;
    }
  }

  boost::asio::io_context& io_;
  std::string password_;
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
  std::mutex mu_;
  std::vector<Startup> startups_;
  std::vector<std::pair<int32_t, int32_t>> cancels_;
  std::atomic<bool> cancel_flag_{false};
  std::atomic<int> open_{0};
};

}  // namespace tp::testing
