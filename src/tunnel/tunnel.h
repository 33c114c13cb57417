// The reverse tunnel between the proxy and database agents (DESIGN section 2).
//
// Design: each agent keeps a few mutual-TLS connections open to the proxy (host certificates on
// both sides), and every database session is a stream multiplexed over one of them
// (tunnel/mux.h). A session's stream costs a stream id, credit counters and its pending
// operations, not a TLS connection: in the pool this replaced, each session held one TLS
// endpoint in the proxy and one in the agent (~17 KiB of OpenSSL state each) and made the agent
// dial a replacement connection, handshake included.
//
// A stream starts with the proxy's kOpen frame carrying the dial line (DialRequest::to_json(),
// tunnel/dial_line.h) and the agent's kAnswer, ok or the error that refused it; the answer lets
// dial() tell a refusing agent (unknown database, foreign cancel key) from an unreachable one, so
// the proxy can fail over to another agent serving the same database. Then the session's bytes,
// under per-stream credit so a slow client stalls only its own session.
//
// Event loops: a session runs on its connection's loop, in the proxy and in the agent. The proxy
// spreads each agent's connections over its loops and asks the agent for at least one connection
// per loop (kWant); dial() uses a connection on the caller's loop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "net/server.h"

namespace tp::tunnel {

class MuxStream;  // tunnel/mux.h

// ALPN protocol an agent uses when it tunnels through the proxy's web port.
inline constexpr const char* kAlpnReverseTunnel = "teleport-reversetunnel";

// Dial kinds.
inline constexpr const char* kDialDatabase = "db";
// A PostgreSQL CancelRequest that arrived without a client certificate (native
// listener). The agent answers not_found unless it issued that key, so the proxy
// may try each agent serving PostgreSQL in turn; after an ok answer the agent
// has sent the cancel upstream and closes the stream.
inline constexpr const char* kDialPostgresCancel = "pg_cancel";

struct DialRequest {
  std::string kind = kDialDatabase;  // kDialDatabase or kDialPostgresCancel
  std::string db_name;               // registered database name
  std::string protocol;              // "postgres" or "mysql"
  std::string client_cert_pem;       // the user's certificate; the agent verifies it again
  std::string client_addr;
  std::string session_id;
  std::string initial_data;        // client bytes the proxy already read that belong to the session
                                   // (binary; base64 in the JSON form)
  uint32_t cancel_process_id = 0;  // pg_cancel
  uint32_t cancel_secret_key = 0;  // pg_cancel

  nlohmann::json to_json() const;
  static Result<DialRequest> from_json(const nlohmann::json& j);
};

// Proxy side: holds the connections agents dialled in.
class TunnelServer {
 public:
  virtual ~TunnelServer() = default;
  // Takes over a verified agent connection (TLS done, identity is a Db host).
  virtual void add_connection(const std::string& host_id, net::TlsStream stream) = 0;
  // Opens a stream on one of that agent's connections on the caller's event loop (the one with
  // the fewest streams), waits for the agent's answer and hands the stream over; the caller
  // must stay on that loop. Connections that ended or drain are skipped; when the agent has none
  // on this loop for the moment (it is reconnecting) it waits up to ~2 s. Errors: kUnavailable
  // (agent not connected or not answering: try another agent), or the agent's refusal (e.g.
  // kNotFound for a database or cancel key it does not have).
  virtual boost::asio::awaitable<Result<std::unique_ptr<MuxStream>>> dial(
      const std::string& host_id, const DialRequest& request) = 0;
  // Agents with a connection, or that had one recently (they are reconnecting; dial() waits).
  virtual std::vector<std::string> connected_agents() const = 0;
};

// How long an agent counts as alive after it last added a connection, or after one of its
// connections ended (it is reconnecting): while it is, dial() waits for a connection instead of
// failing at once.
inline constexpr std::chrono::milliseconds kAgentRecentlySeen{5000};

// How long an agent resumes its tunnel connections' TLS session (net/tls.h resume_sessions_for):
// a full handshake, with both certificates checked by OpenSSL, at least this often. The proxy
// checks the agent's certificate on every connection, resumed or not.
inline constexpr std::chrono::seconds kTunnelSessionLifetime{600};

// `loops`: the proxy's event loops (net/io_pool.h), each run by one thread; agents' connections
// are spread over them. Empty: connections stay on the loop that accepted them, which must then
// be run by one thread too.
std::shared_ptr<TunnelServer> make_tunnel_server(std::vector<boost::asio::io_context*> loops = {},
                                                 std::chrono::milliseconds recently_seen = kAgentRecentlySeen);

// Agent side: keeps `connections` connections to the proxy (more if the proxy asks for one per event
// loop) and runs the handler for every stream the proxy opens, on its own coroutine, on the
// connection's loop.
struct TunnelAgentConfig {
  HostPort proxy_addr;
  bool via_web_port = true;               // use ALPN teleport-reversetunnel on the proxy's web port
  std::string cert_pem, key_pem;          // the agent's host identity
  std::vector<std::string> host_ca_pems;  // to verify the proxy
  size_t connections = 4;
  // Reconnect backoff: doubles from min to max (with jitter) while the proxy is unreachable.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  // Checked before the agent answers a dial; an error goes back to the proxy,
  // whose dial() returns it. Null accepts every dial.
  std::function<Status(const DialRequest&)> accept;
  // Event loops (net/io_pool.h), asked for one per connection: the connection's sessions run there.
  // Each loop must be run by one thread: a session on one gets no strand. Unset: the io_context
  // given to start_tunnel_agent (any number of threads; each connection then gets a strand).
  std::function<boost::asio::io_context&()> session_io;
};

using DialHandler = std::function<boost::asio::awaitable<void>(DialRequest, std::unique_ptr<MuxStream>)>;

class TunnelAgent {
 public:
  virtual ~TunnelAgent() = default;
  // Stops dialling; connections take no new sessions and close once their sessions have ended.
  virtual void stop() = 0;
  // Replaces the certificate: new connections are made with it, and the old ones take no new
  // sessions and close once theirs have ended.
  virtual void update_identity(std::string cert_pem, std::string key_pem) = 0;
};

// Proxy identities the agent accepts at the other end: host certificates of the
// Proxy or Auth role (an all-in-one process serves with the auth host identity).
std::shared_ptr<TunnelAgent> start_tunnel_agent(boost::asio::io_context& io, TunnelAgentConfig config,
                                                DialHandler handler);

}  // namespace tp::tunnel
