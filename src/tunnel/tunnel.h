// The reverse tunnel between the proxy and database agents (DESIGN section 2).
//
// Design: a pool of agent-dialled connections, not a multiplexer. Each agent
// keeps a few idle mutual-TLS connections open to the proxy (host
// certificates on both sides). To reach the agent, the proxy takes one idle
// connection, writes one dial line (JSON + '\n') and from then on the
// connection is a plain byte stream for that one database session; the agent
// immediately dials a replacement. One TCP connection per session means no
// head-of-line blocking between sessions and no framing cost on the relay.
//
// Wire format on a pooled connection (see tunnel/dial_line.h):
//   proxy -> agent: one dial line, DialRequest::to_json() + '\n'
//   agent -> proxy: one answer line, {"ok":true} or {"ok":false,"code":..,"error":..} + '\n'
//   then, after an ok answer, the session's bytes in both directions.
// The answer lets dial() tell a dead or refusing agent from a working one, so
// the proxy can fail over to another agent serving the same database. Idle
// connections are watched for readability: the agent never writes on an idle
// connection, so readable means closed, and the connection leaves the pool.
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

// Proxy side: holds the idle connections agents dialled in.
class TunnelServer {
 public:
  virtual ~TunnelServer() = default;
  // Takes over a verified agent connection (TLS done, identity is a Db host).
  virtual void add_connection(const std::string& host_id, net::TlsStream stream) = 0;
  // Sends the dial line on an idle connection of that agent, waits for the
  // agent's answer and hands the stream over. Dead idle connections are skipped;
  // when the pool is momentarily empty (a burst of sessions) it waits up to
  // ~2 s for the agent's replacements. Errors: kUnavailable (agent not
  // connected or not answering: try another agent), or the agent's refusal
  // (e.g. kNotFound for a database or cancel key it does not have).
  virtual boost::asio::awaitable<Result<std::unique_ptr<net::TlsStream>>> dial(
      const std::string& host_id, const DialRequest& request) = 0;
  // Agents with an idle connection, or that added one recently (their pool may be drained by a
  // burst of sessions; dial() then waits for replacements).
  virtual std::vector<std::string> connected_agents() const = 0;
};

// How long an agent counts as alive after it last added a connection, or after
// a dial last took one of its idle connections (its replacements are on the
// way): while it is, dial() waits for a connection instead of failing at once.
inline constexpr std::chrono::milliseconds kAgentRecentlySeen{5000};

// How long an agent resumes its tunnel connections' TLS session (net/tls.h resume_sessions_for):
// a full handshake, with both certificates checked by OpenSSL, at least this often. The proxy
// checks the agent's certificate on every connection, resumed or not.
inline constexpr std::chrono::seconds kTunnelSessionLifetime{600};

std::shared_ptr<TunnelServer> make_tunnel_server(boost::asio::io_context& io,
                                                 std::chrono::milliseconds recently_seen = kAgentRecentlySeen);

// Agent side: keeps `pool_size` idle connections to the proxy and runs the
// handler for every dial, on its own coroutine.
struct TunnelAgentConfig {
  HostPort proxy_addr;
  bool via_web_port = true;               // use ALPN teleport-reversetunnel on the proxy's web port
  std::string cert_pem, key_pem;          // the agent's host identity
  std::vector<std::string> host_ca_pems;  // to verify the proxy
  size_t pool_size = 4;
  // Reconnect backoff: doubles from min to max (with jitter) while the proxy is unreachable.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  // Checked before the agent answers a dial; an error goes back to the proxy,
  // whose dial() returns it. Null accepts every dial.
  std::function<Status(const DialRequest&)> accept;
  // Event loops (net/io_pool.h), asked for one per slot at start and one per session: a session
  // runs on another loop than the slot that carried it, so the slot's replacement connection is
  // dialled beside it rather than ahead of it. Each loop must be run by one thread: a session on
  // one gets no strand. Unset: the io_context given to start_tunnel_agent (any number of threads).
  std::function<boost::asio::io_context&()> session_io;
};

using DialHandler = std::function<boost::asio::awaitable<void>(DialRequest, std::unique_ptr<net::TlsStream>)>;

class TunnelAgent {
 public:
  virtual ~TunnelAgent() = default;
  // Stops dialling and closes the idle connections; running sessions go on.
  virtual void stop() = 0;
  // Replaces the certificate used for new connections (after renewal).
  virtual void update_identity(std::string cert_pem, std::string key_pem) = 0;
};

// Proxy identities the agent accepts at the other end: host certificates of the
// Proxy or Auth role (an all-in-one process serves with the auth host identity).
std::shared_ptr<TunnelAgent> start_tunnel_agent(boost::asio::io_context& io, TunnelAgentConfig config,
                                                DialHandler handler);

}  // namespace tp::tunnel
