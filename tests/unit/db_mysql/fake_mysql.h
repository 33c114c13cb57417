// A small MySQL server for engine tests: greeting with CLIENT_SSL, SSLRequest then TLS, a
// mysql_native_password login (or a switch to mysql_clear_password for users named "iam_*"), and
// a few commands:
//   COM_QUERY "big N"    a text result set of N rows of 1000 bytes
//   COM_QUERY "fail"     ERR 1064
//   COM_QUERY "hang up"  ERR 1927, then the server closes the connection
//   COM_QUERY other      a one-row result set echoing the text
//   COM_INIT_DB, COM_PING, COM_STMT_RESET -> OK; COM_STMT_PREPARE -> PREPARE_OK with one parameter per
//   '?'; COM_STMT_EXECUTE -> OK; COM_QUIT closes.
// It records logins and commands for the tests to check.
#pragma once

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <mutex>

#include "net/server.h"
#include "net/tls.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/command.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "unit/tunnel/test_pki.h"

namespace tp::testing {

class FakeMysql {
 public:
  static constexpr uint32_t kThreadId = 31337;
  static constexpr uint64_t kCapabilities = 0xDFFFFFFF;  // MySQL 8: everything but SSL_VERIFY_SERVER_CERT

  FakeMysql(boost::asio::io_context& io, const KeyPair& cert, std::string password)
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

  struct Login {
    std::string user, database, plugin;
    uint64_t capabilities = 0;
  };
  std::vector<Login> logins() {
    std::lock_guard lock(mu_);
    return logins_;
  }
  std::vector<std::string> commands() {  // "COM_QUERY hello", "COM_INIT_DB app", ...
    std::lock_guard lock(mu_);
    return commands_;
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

  // Reads exactly one packet (header, then payload): nothing past it, since a TLS handshake may
  // follow the SSLRequest at once.
  template <class Stream>
  static boost::asio::awaitable<std::optional<mysql::Packet>> read(Stream& s, std::string& hold) {
    hold.assign(4, '\0');
    auto [ec, n] = co_await boost::asio::async_read(s, boost::asio::buffer(hold.data(), 4), kTuple);
    if (ec) co_return std::nullopt;
    size_t length = uint8_t(hold[0]) | (uint8_t(hold[1]) << 8) | (uint8_t(hold[2]) << 16);
    hold.resize(4 + length);
    if (length) {
      auto [ec2, n2] =
          co_await boost::asio::async_read(s, boost::asio::buffer(hold.data() + 4, length), kTuple);
      if (ec2) co_return std::nullopt;
    }
    mysql::Packet p;
    p.sequence_id = p.last_sequence_id = uint8_t(hold[3]);
    p.payload = std::string_view(hold).substr(4);
    co_return p;
  }

  template <class Stream>
  static boost::asio::awaitable<bool> send(Stream& s, const std::string& bytes) {
    auto [ec, n] = co_await boost::asio::async_write(s, boost::asio::buffer(bytes), kTuple);
    co_return !ec;
  }

  boost::asio::awaitable<void> serve(net::tcp::socket socket) {
    mysql::HandshakeV10 g;
    g.server_version = "8.0.36-fake";
    g.connection_id = kThreadId;
    g.auth_plugin_data = "ABCDEFGHIJKLMNOPQRST";
    g.capabilities = kCapabilities;
    g.auth_plugin_name = "mysql_native_password";
    if (!co_await send(socket, mysql::encode_packet(*mysql::encode_handshake_v10(g), 0))) co_return;
    std::string hold;
    auto ssl = co_await read(socket, hold);
    if (!ssl || !mysql::is_ssl_request(ssl->payload)) co_return;
    TlsStream tls(std::move(socket), *ctx_);
    if (!co_await net::tls_handshake(tls, boost::asio::ssl::stream_base::server, std::chrono::seconds(5)))
      co_return;
    auto packet = co_await read(tls, hold);
    if (!packet) co_return;
    auto response = mysql::parse_handshake_response41(packet->payload);
    if (!response.ok()) co_return;
    const uint64_t caps = response->capabilities & kCapabilities;
    {
      std::lock_guard lock(mu_);
      logins_.push_back({response->username, response->database, response->auth_plugin_name, caps});
    }
    uint8_t seq = packet->last_sequence_id + 1;
    bool ok = response->auth_response == mysql::native_password_scramble(password_, g.auth_plugin_data);
    if (response->username.rfind("iam_", 0) == 0) {
      // No braced temporaries inside a co_await expression: GCC 12 destroys them wrongly.
      const mysql::AuthSwitchRequest clear{"mysql_clear_password", ""};
      const std::string switch_packet = mysql::encode_packet(*mysql::encode_auth_switch_request(clear), seq);
      if (!co_await send(tls, switch_packet)) co_return;
      auto answer = co_await read(tls, hold);
      if (!answer) co_return;
      ok = answer->payload == mysql::clear_password_response(password_);
      seq = answer->last_sequence_id + 1;
    }
    if (!ok) {
      mysql::ErrPacket err{1045, "28000", "Access denied for user '" + response->username + "'@'127.0.0.1'"};
      co_await send(tls, mysql::encode_packet(mysql::encode_err_packet(err, caps), seq));
      co_return;
    }
    if (!co_await send(tls, mysql::encode_packet(ok_payload(caps), seq))) co_return;
    ++open_;
    co_await session(tls, caps);
    --open_;
  }

  static std::string ok_payload(uint64_t caps, uint8_t header = mysql::kOkHeader) {
    mysql::OkPacket ok;
    ok.header = header;
    ok.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
    return mysql::encode_ok_packet(ok, caps);
  }

  static std::string column_definition(const std::string& name) {
    std::string out;
    for (const char* s : {"def", "", "", "", name.c_str(), name.c_str()}) mysql::put_lenenc_string(out, s);
    mysql::put_lenenc_int(out, 0x0c);
    mysql::put_u16(out, 45);
    mysql::put_u32(out, 1 << 20);
    mysql::put_u8(out, 253);  // VAR_STRING
    mysql::put_u16(out, 0);
    mysql::put_u8(out, 0);
    mysql::put_u16(out, 0);
    return out;
  }

  // A one-column text result set whose rows come from `row(i)`, streamed in chunks.
  template <class Row>
  static boost::asio::awaitable<bool> result_set(TlsStream& tls, uint64_t caps, size_t rows, Row row) {
    std::string out;
    uint8_t seq = 1;
    std::string count;
    mysql::put_lenenc_int(count, 1);
    seq = mysql::append_packet(out, count, seq);
    seq = mysql::append_packet(out, column_definition("v"), seq);
    const bool deprecate_eof = caps & mysql::CLIENT_DEPRECATE_EOF;
    if (!deprecate_eof) seq = mysql::append_packet(out, mysql::encode_eof_packet({0, 2}, caps), seq);
    for (size_t i = 0; i < rows; ++i) {
      std::string r;
      mysql::put_lenenc_string(r, row(i));
      seq = mysql::append_packet(out, r, seq);
      if (out.size() > 256 * 1024) {
        if (!co_await send(tls, out)) co_return false;
        out.clear();
      }
    }
    if (deprecate_eof)
      mysql::append_packet(out, ok_payload(caps, mysql::kEofHeader), seq);
    else
      mysql::append_packet(out, mysql::encode_eof_packet({0, 2}, caps), seq);
    co_return co_await send(tls, out);
  }

  boost::asio::awaitable<void> session(TlsStream& tls, uint64_t caps) {
    std::string hold;
    uint32_t next_statement = 1;
    while (true) {
      auto packet = co_await read(tls, hold);
      if (!packet) co_return;
      auto command = mysql::parse_command(packet->payload, caps);
      if (!command.ok()) co_return;
      {
        std::lock_guard lock(mu_);
        commands_.push_back(std::string(mysql::command_name(command->type)) +
                            (command->text.empty() ? "" : " " + command->text));
      }
      const std::string ok = mysql::encode_packet(ok_payload(caps), 1);
      bool sent = true;
      switch (command->type) {
        case mysql::CommandType::kQuit:
          co_return;
        case mysql::CommandType::kQuery:
          if (command->text.rfind("big ", 0) == 0) {
            size_t n = std::stoul(command->text.substr(4));
            sent = co_await result_set(tls, caps, n, [](size_t i) {
              std::string v(1000, 'x');
              std::string id = std::to_string(i);
              v.replace(0, id.size(), id);
              return v;
            });
          } else if (command->text == "hang up") {  // as KILL from another session: an ERR, then close
            const mysql::ErrPacket killed{1927, "70100", "Connection was killed"};
            const std::string last_words = mysql::encode_packet(mysql::encode_err_packet(killed, caps), 1);
            (void)co_await send(tls, last_words);
            co_return;
          } else if (command->text == "fail") {
            const mysql::ErrPacket syntax{1064, "42000", "syntax error"};
            const std::string err = mysql::encode_packet(mysql::encode_err_packet(syntax, caps), 1);
            sent = co_await send(tls, err);
          } else {
            std::string text = command->text;
            sent = co_await result_set(tls, caps, 1, [&text](size_t) { return text; });
          }
          break;
        case mysql::CommandType::kStmtPrepare: {
          mysql::StmtPrepareOk prepared;
          prepared.statement_id = next_statement++;
          prepared.num_params =
              static_cast<uint16_t>(std::count(command->text.begin(), command->text.end(), '?'));
          std::string out;
          uint8_t seq = mysql::append_packet(out, mysql::encode_stmt_prepare_ok(prepared, caps), 1);
          for (uint16_t i = 0; i < prepared.num_params; ++i)
            seq = mysql::append_packet(out, column_definition("?"), seq);
          if (prepared.num_params && !(caps & mysql::CLIENT_DEPRECATE_EOF))
            mysql::append_packet(out, mysql::encode_eof_packet({0, 2}, caps), seq);
          sent = co_await send(tls, out);
          break;
        }
        case mysql::CommandType::kStmtClose:
        case mysql::CommandType::kStmtSendLongData:
          break;
        default:  // COM_INIT_DB, COM_PING, COM_STMT_EXECUTE, ...
          sent = co_await send(tls, ok);
          break;
      }
      if (!sent) co_return;
    }
  }

  boost::asio::io_context& io_;
  std::string password_;
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
  std::mutex mu_;
  std::vector<Login> logins_;
  std::vector<std::string> commands_;
  std::atomic<int> open_{0};
};

}  // namespace tp::testing
