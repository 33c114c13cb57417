// The PostgreSQL engine's I/O pieces, shared by engine.cc (the session),
// upstream.cc (connecting and logging in to the real server) and relay.cc.
// Asio-heavy: include from .cc files only.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "db/session.h"
#include "common/result.h"
#include "common/rng.h"
#include "db/internal/session_deadline.h"
#include "db/internal/stream_io.h"
#include "db/postgres/cancel_registry.h"
#include "db/postgres/query_auditor.h"
#include "db/upstream_tls.h"
#include "net/server.h"
#include "protocol/postgres/startup.h"
#include "tunnel/mux.h"

namespace tp::db::pg_internal {

// A client connection and the bytes read from it but not yet consumed
// (starting with the dial request's initial data).
struct ClientConn {
  tunnel::MuxStream& stream;
  std::string pending;
};

using internal::close_stream;
using internal::write_bytes;
// Appends what one read returns (at most `max` bytes); an error at EOF. For the client's stream and
// the server's.
template <class Stream>
boost::asio::awaitable<Status> read_more(Stream& stream, std::string& buffer, size_t max = 16384) {
  size_t old = buffer.size();
  buffer.resize(old + max);
  auto [ec, n] = co_await stream.async_read_some(boost::asio::buffer(buffer.data() + old, max),
                                                 boost::asio::as_tuple(boost::asio::use_awaitable));
  buffer.resize(old + n);
  if (ec) co_return unavailable("connection closed: " + ec.message());
  co_return Status{};
}

// Reads startup packets until a StartupMessage or CancelRequest, answering
// SSLRequest and GSSENCRequest with 'N': the client's bytes are already
// encrypted on every hop of the tunnel.
boost::asio::awaitable<Result<std::variant<pg::StartupMessage, pg::CancelRequest>>> read_client_startup(
    ClientConn& client);

struct UpstreamRequest {
  const Database& db;
  UpstreamTls& tls;
  pg::StartupMessage startup;  // as sent upstream: the route's user and database
  std::optional<std::string> password;
  std::string missing_password;  // why there is none
  Rng& rng;
  CancelRegistry& cancels;
  CancelTarget cancel_target;  // upstream, user, sid filled in; the key comes from the server
};

struct UpstreamSession {
  std::unique_ptr<net::TlsStream> stream;
  // ParameterStatus ... ReadyForQuery for the client, our cancel key in place
  // of the server's.
  std::string to_client;
  // Server bytes read past ReadyForQuery: the relay sends them first.
  std::string pending;
  std::optional<CancelKey> client_key;
};

struct UpstreamFailure {
  Error error;
  std::string server_error;  // the server's own ErrorResponse, to forward as is; may be empty
};

boost::asio::awaitable<std::variant<UpstreamSession, UpstreamFailure>> connect_upstream(
    UpstreamRequest request);

// Sends the upstream's real CancelRequest on a new plain connection (the
// server reads it before any TLS or authentication).
boost::asio::awaitable<Status> send_cancel(const CancelTarget& target);

// RelayEnd and relay_end_name: src/db/session.h (shared by the engines).

// Copies bytes both ways until one side closes or the deadline comes; client
// messages pass through the decoder for the auditor, server bytes are copied
// as they come (only message boundaries are counted). Ends a deadline-stopped
// session at a server message boundary.
boost::asio::awaitable<RelayEnd> relay(ClientConn& client, net::TlsStream& upstream,
                                       std::string upstream_pending, internal::SessionDeadline& deadline,
                                       QueryAuditor& auditor);

}  // namespace tp::db::pg_internal
