// The MySQL engine's I/O pieces, shared by engine.cc (the session), upstream.cc (connecting and
// logging in to the real server) and relay.cc. Asio-heavy: include from .cc files only.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.h"
#include "db/internal/session_deadline.h"
#include "db/internal/stream_io.h"
#include "db/mysql/query_auditor.h"
#include "db/mysql/upstream_login.h"
#include "db/session.h"
#include "db/upstream_tls.h"
#include "net/relay_ops.h"
#include "net/server.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "tunnel/mux.h"

namespace tp::db::mysql_internal {

namespace asio = boost::asio;
inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// One TLS record holds at most 16 KiB; a few per read keep the per-session footprint small while
// large result sets still stream quickly.
inline constexpr size_t kReadChunk = 64 * 1024;

using internal::write_bytes;

// Reads the next logical packet into `buffer` (which keeps any bytes read past it) and returns it,
// along with the bytes it took on the wire. `packet.payload` points into `buffer` or the framer and
// is valid until the caller erases `consumed` bytes from `buffer`.
struct ReadPacket {
  mysql::Packet packet;
  size_t consumed = 0;
};
template <class Stream>
asio::awaitable<Result<ReadPacket>> read_packet(Stream& stream, std::string& buffer,
                                                mysql::PacketFramer& framer) {
  size_t consumed = 0;
  while (true) {
    auto step = framer.next(std::string_view(buffer).substr(consumed));
    if (!step.ok()) co_return step.error();
    consumed += step->consumed;
    if (step->packet) co_return ReadPacket{*step->packet, consumed};
    size_t old = buffer.size();
    buffer.resize(old + 16 * 1024);
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer.data() + old, 16 * 1024), kTuple);
    buffer.resize(old + n);
    if (ec) co_return unavailable("connection closed: " + ec.message());
  }
}

// The server's stream: sends close_notify, waiting at most half a second for the server's; then
// closes. The client's: internal::close_stream(tunnel::MuxStream&).
inline asio::awaitable<void> close_stream(net::TlsStream& stream) {
  return internal::close_stream(stream, std::chrono::milliseconds(500));
}
using internal::close_stream;

// Serializes writes to one stream from the relay's two coroutines (an ERR the agent answers in
// place of the server must not land inside a chunk of server bytes). Both coroutines run on the
// session's strand, so a flag and a timer to wake waiters are enough. The writes take no
// cancellation slot (net::without_cancellation()); a wait for the other writer does.
class SerialWriter {
 public:
  SerialWriter(tunnel::MuxStream& stream, const asio::any_io_executor& executor)
      : stream_(stream), wake_(executor) {}
  asio::awaitable<Status> write(std::string_view bytes);

 private:
  tunnel::MuxStream& stream_;
  asio::steady_timer wake_;
  bool busy_ = false;
};

// ---- connecting upstream (upstream.cc) ----

struct UpstreamRequest {
  const Database& db;
  UpstreamTls& tls;
  MysqlUpstreamLoginRequest login;
};

struct UpstreamSession {
  std::unique_ptr<net::TlsStream> stream;
  mysql::OkPacket ok;          // the server's answer to the login
  uint32_t connection_id = 0;  // the server's thread id (for logs and KILL)
  std::string server_version;
};

struct UpstreamFailure {
  Error error;
  std::optional<mysql::ErrPacket> server_error;  // the server's own ERR_Packet, if it sent one
};

asio::awaitable<std::variant<UpstreamSession, UpstreamFailure>> connect_upstream(UpstreamRequest request);

// ---- the relay (relay.cc) ----

// RelayEnd and relay_end_name: src/db/session.h (shared by the engines).

// Checks a COM_INIT_DB / USE target against the session's roles; an error is the refusal.
using DatabaseCheck = std::function<Status(const std::string& database)>;

struct RelayParts {
  tunnel::MuxStream& client;
  std::string client_pending;  // client bytes read but not yet forwarded
  net::TlsStream& upstream;
  internal::SessionDeadline& deadline;
  MysqlQueryAuditor& auditor;
  uint64_t capabilities;  // negotiated with the client (and, for the command phase, the server)
  DatabaseCheck allowed_database;
  std::string* error_detail;  // receives what went wrong on a protocol error
};

// Copies packets both ways until one side closes or the deadline comes. Client commands pass the
// command policy (command_policy.h) and the decoder (for the auditor); refused ones are answered
// with an ERR and not forwarded. Server bytes are copied as they come, followed only by the
// response tracker. Ends a deadline-stopped session only when the server is idle, so the caller
// can send the client a last ERR.
asio::awaitable<RelayEnd> relay(RelayParts parts);

}  // namespace tp::db::mysql_internal
