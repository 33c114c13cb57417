// Agent side of the reverse tunnel: slots, each keeping one multiplexed connection to the proxy
// (tunnel/mux.h) and making it again when it ends; the proxy opens sessions' streams on them.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

#include "common/log.h"
#include "common/rng.h"
#include "net/io_pool.h"
#include "net/tls.h"
#include "tunnel/dial_line.h"
#include "tunnel/internal/stream_io.h"
#include "tunnel/mux.h"
#include "tunnel/tunnel.h"

namespace tp::tunnel {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kConnectTimeout{5};
constexpr std::chrono::seconds kHandshakeTimeout{10};
constexpr std::chrono::seconds kAnswerTimeout{5};
constexpr std::chrono::seconds kFailureLogInterval{30};
// However many event loops a proxy says it has, an agent keeps at most this many connections.
constexpr size_t kMaxConnections = 64;
// How often a draining connection looks whether its last session has ended.
constexpr std::chrono::seconds kDrainPoll{1};

class MuxTunnelAgent final : public TunnelAgent, public std::enable_shared_from_this<MuxTunnelAgent> {
 public:
  MuxTunnelAgent(asio::io_context& io, TunnelAgentConfig config, DialHandler handler)
      : io_(io), config_(std::move(config)), handler_(std::move(handler)) {}

  void start() {
    std::lock_guard lock(mu_);
    while (slots_.size() < std::max<size_t>(config_.connections, 1)) add_slot();
  }

  void stop() override {
    stopped_ = true;
    wake_all();
  }

  void update_identity(std::string cert_pem, std::string key_pem) override {
    {
      std::lock_guard lock(mu_);
      config_.cert_pem = std::move(cert_pem);
      config_.key_pem = std::move(key_pem);
      context_ = nullptr;
      ++generation_;
    }
    wake_all();  // each slot drains its connection and dials a new one
  }

 private:
  // One connection at a time to the proxy, made again whenever it ends.
  struct Slot {
    explicit Slot(asio::any_io_executor e) : executor(e), wake(e) {}
    asio::any_io_executor executor;  // the connection's and its sessions'
    asio::steady_timer wake;         // cancelled to wake the slot: closed, stop, new identity
    bool closed = false;             // executor only
  };

  // Under mu_.
  void add_slot() {
    asio::io_context& loop = config_.session_io ? config_.session_io() : io_;
    // A loop from session_io has one thread; io_ may have several.
    auto slot = std::make_shared<Slot>(net::session_executor(loop, bool(config_.session_io)));
    slots_.push_back(slot);
    asio::co_spawn(slot->executor, run_slot(slot), [](std::exception_ptr e) { log_exception("tunnel connection", e); });
  }

  void wake_all() {
    std::lock_guard lock(mu_);
    for (auto& slot : slots_) asio::post(slot->executor, [slot] { slot->wake.cancel(); });
  }

  // The proxy asks for a connection per event loop it has.
  void on_want(uint32_t count) {
    if (stopped_) return;
    std::lock_guard lock(mu_);
    const size_t want = std::min<size_t>(count, kMaxConnections);
    if (slots_.size() < want)
      log::debug("tunnel", "the proxy asks for more tunnel connections", {{"connections", std::to_string(want)}});
    while (slots_.size() < want) add_slot();
  }

  static void log_exception(const char* what, std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("tunnel", std::string("unexpected failure in ") + what, {{"error", ex.what()}});
    }
  }

  // The TLS client context for the current identity. Contexts are kept for the
  // process lifetime: a stream must not outlive the context it was made from.
  Result<ssl::context*> context() {
    std::lock_guard lock(mu_);
    if (context_) return context_;
    net::TlsClientConfig tls;
    tls.cert_pem = config_.cert_pem;
    tls.key_pem = config_.key_pem;
    tls.ca_pems = config_.host_ca_pems;
    if (config_.via_web_port) tls.alpn = {kAlpnReverseTunnel};
    TP_TRY(auto ctx, net::make_client_context(tls));
    // A new identity gets a new context, and so starts with a full handshake.
    net::remember_sessions(ctx, kTunnelSessionLifetime);
    contexts_.push_back(std::make_unique<ssl::context>(std::move(ctx)));
    context_ = contexts_.back().get();
    return context_;
  }

  asio::awaitable<Result<std::unique_ptr<net::TlsStream>>> connect_once() {
    auto ctx = context();
    if (!ctx.ok()) co_return ctx.error().wrap("the agent's identity");
    auto socket = co_await net::connect_tcp(config_.proxy_addr, kConnectTimeout);
    if (!socket.ok()) co_return socket.error();
    internal::enable_keepalive(*socket);
    auto stream = std::make_unique<net::TlsStream>(std::move(*socket), **ctx);
    // SNI only: the proxy is recognised by its host certificate from the cluster's CA, not by name.
    if (auto named = net::expect_server_name(stream->native_handle(), config_.proxy_addr.host, false); !named.ok())
      co_return named.error();
    net::offer_remembered_session(stream->native_handle());
    if (!co_await net::tls_handshake(
            *stream, ssl::stream_base::client,
            std::chrono::duration_cast<std::chrono::milliseconds>(kHandshakeTimeout))) {
      long verify = SSL_get_verify_result(stream->native_handle());
      // (No ?: with class temporaries in coroutines: GCC 12 may destroy them twice.)
      std::string why = "handshake failed or timed out";
      if (verify != X509_V_OK)
        why = std::string(X509_verify_cert_error_string(verify)) +
              " (is this the cluster's proxy? check teleport.proxy_server)";
      co_return unavailable("TLS with the proxy at " + config_.proxy_addr.str() + ": " + why);
    }
    if (config_.via_web_port && net::negotiated_alpn(stream->native_handle()) != kAlpnReverseTunnel)
      co_return unavailable("the proxy at " + config_.proxy_addr.str() +
                            " does not accept reverse tunnels on this port (ALPN " + kAlpnReverseTunnel +
                            ")");
    auto peer = net::peer_identity(stream->native_handle());
    if (!peer.ok()) co_return peer.error().wrap("the proxy at " + config_.proxy_addr.str());
    if (!peer->is_host_role(kHostRoleProxy) && !peer->is_host_role(kHostRoleAuth))
      co_return unauthenticated("the server at " + config_.proxy_addr.str() +
                                " is not a proxy of this cluster");
    co_return std::move(stream);
  }

  void note_failure(const Error& e) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    bool was_connected = connected_;
    connected_ = false;
    if (was_connected || now - last_failure_log_ >= kFailureLogInterval) {
      last_failure_log_ = now;
      log::warn("tunnel", "cannot reach the proxy; retrying",
                {{"proxy", config_.proxy_addr.str()}, {"error", e.message}});
    }
  }

  void note_success() {
    std::lock_guard lock(mu_);
    if (!connected_) log::info("tunnel", "reverse tunnel connected", {{"proxy", config_.proxy_addr.str()}});
    connected_ = true;
  }

  asio::awaitable<void> sleep(Slot& slot, std::chrono::milliseconds delay) {
    slot.wake.expires_after(delay);
    co_await slot.wake.async_wait(kTuple);
  }

  asio::awaitable<void> run_slot(std::shared_ptr<Slot> slot) {
    auto self = shared_from_this();
    auto backoff = config_.min_backoff;
    while (!stopped_) {
      uint64_t generation;
      {
        std::lock_guard lock(mu_);
        generation = generation_;
      }
      auto connected = co_await connect_once();
      if (stopped_) break;
      if (!connected.ok()) {
        note_failure(connected.error());
        // Jitter in [backoff/2, backoff] spreads reconnects of many slots and agents.
        auto jitter = std::chrono::milliseconds(crypto_rng().u32() % (backoff.count() / 2 + 1));
        co_await sleep(*slot, backoff - jitter);
        backoff = std::min(backoff * 2, config_.max_backoff);
        continue;
      }
      note_success();
      backoff = config_.min_backoff;
      slot->closed = false;
      std::weak_ptr<MuxTunnelAgent> weak = self;
      auto mux = MuxConnection::start(
          std::move(*connected), MuxConnection::Side::kAgent, MuxOptions{},
          [weak](std::unique_ptr<MuxStream> stream, std::string payload) {
            if (auto agent = weak.lock()) agent->on_open(std::move(stream), std::move(payload));
          },
          [slot](const boost::system::error_code&) {
            slot->closed = true;
            slot->wake.cancel();
          },
          [weak](uint32_t count) {
            if (auto agent = weak.lock()) agent->on_want(count);
          });
      // Until the connection ends, the agent stops or the identity changes.
      while (!slot->closed && !stopped_ && !renewed(generation)) {
        slot->wake.expires_at(asio::steady_timer::time_point::max());
        co_await slot->wake.async_wait(kTuple);
      }
      if (!slot->closed) drain(mux);
    }
  }

  bool renewed(uint64_t generation) {
    std::lock_guard lock(mu_);
    return generation != generation_;
  }

  // No new sessions on `mux`; it closes once its sessions have ended.
  void drain(std::shared_ptr<MuxConnection> mux) {
    mux->go_away();
    auto executor = mux->get_executor();
    asio::co_spawn(
        executor,
        [](std::shared_ptr<MuxConnection> mux) -> asio::awaitable<void> {
          asio::steady_timer timer(co_await asio::this_coro::executor);
          while (!mux->closed() && mux->open_streams() > 0) {
            timer.expires_after(kDrainPoll);
            co_await timer.async_wait(kTuple);
          }
          mux->close();
        }(std::move(mux)),
        asio::detached);
  }

  void on_open(std::unique_ptr<MuxStream> stream, std::string payload) {
    auto request = decode_dial_line(payload);
    Status accepted;
    if (!request.ok()) accepted = request.error();
    if (request.ok()) {
      if (stopped_)
        accepted = unavailable("the database agent is shutting down");
      else if (config_.accept)
        accepted = config_.accept(*request);
    }
    std::string answer = encode_dial_answer(accepted);
    answer.pop_back();  // the frame delimits it
    stream->answer(accepted.ok(), answer);
    if (!accepted.ok()) {
      log::debug("tunnel", "dial refused", {{"error", accepted.error().message}});
      return;
    }
    auto executor = stream->get_executor();
    asio::co_spawn(executor, handler_(std::move(*request), std::move(stream)),
                   [](std::exception_ptr e) { log_exception("session", e); });
  }

  asio::io_context& io_;
  TunnelAgentConfig config_;
  DialHandler handler_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::vector<std::shared_ptr<Slot>> slots_;
  uint64_t generation_ = 0;  // of the identity
  ssl::context* context_ = nullptr;
  std::vector<std::unique_ptr<ssl::context>> contexts_;
  bool connected_ = false;
  std::chrono::steady_clock::time_point last_failure_log_{};
};

}  // namespace

std::shared_ptr<TunnelAgent> start_tunnel_agent(asio::io_context& io, TunnelAgentConfig config,
                                                DialHandler handler) {
  auto agent = std::make_shared<MuxTunnelAgent>(io, std::move(config), std::move(handler));
  agent->start();
  return agent;
}

}  // namespace tp::tunnel
