// Agent side of the reverse tunnel: `pool_size` slots, each keeping one idle
// connection to the proxy; a slot that hands its connection to a session dials
// a replacement at once, while the session runs on another event loop (when
// there are several).
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

#include "common/log.h"
#include "common/rng.h"
#include "net/io_pool.h"
#include "net/tls.h"
#include "tunnel/dial_line.h"
#include "tunnel/internal/stream_io.h"
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

class PooledTunnelAgent final : public TunnelAgent, public std::enable_shared_from_this<PooledTunnelAgent> {
 public:
  PooledTunnelAgent(asio::io_context& io, TunnelAgentConfig config, DialHandler handler)
      : io_(io), config_(std::move(config)), handler_(std::move(handler)) {}

  void start() {
    for (size_t i = 0; i < std::max<size_t>(config_.pool_size, 1); ++i) {
      asio::io_context& loop = config_.session_io ? config_.session_io() : io_;
      auto slot = std::make_shared<Slot>(loop);
      slots_.push_back(slot);
      asio::co_spawn(slot->strand, run_slot(slot), [](std::exception_ptr e) { log_exception("slot", e); });
    }
  }

  void stop() override {
    stopped_ = true;
    for (auto& slot : slots_) {
      asio::post(slot->strand, [slot] {
        boost::system::error_code ignored;
        if (slot->idle) slot->idle->next_layer().close(ignored);
        if (slot->timer) slot->timer->cancel();
      });
    }
  }

  void update_identity(std::string cert_pem, std::string key_pem) override {
    std::lock_guard lock(mu_);
    config_.cert_pem = std::move(cert_pem);
    config_.key_pem = std::move(key_pem);
    context_ = nullptr;
  }

 private:
  struct Slot {
    explicit Slot(asio::io_context& l) : loop(l), strand(asio::make_strand(l)) {}
    asio::io_context& loop;  // the slot's connections are made here; their sessions move on
    asio::strand<asio::io_context::executor_type> strand;
    // Set while the slot waits (idle connection, backoff), for stop(); strand only.
    net::TlsStream* idle = nullptr;
    asio::steady_timer* timer = nullptr;
  };

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

  asio::awaitable<void> backoff_sleep(Slot& slot, std::chrono::milliseconds delay) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    slot.timer = &timer;
    co_await timer.async_wait(kTuple);
    slot.timer = nullptr;
  }

  asio::awaitable<void> run_slot(std::shared_ptr<Slot> slot) {
    auto self = shared_from_this();
    auto backoff = config_.min_backoff;
    while (!stopped_) {
      auto connected = co_await connect_once();
      if (stopped_) break;
      if (!connected.ok()) {
        note_failure(connected.error());
        // Jitter in [backoff/2, backoff] spreads reconnects of many slots and agents.
        auto jitter = std::chrono::milliseconds(crypto_rng().u32() % (backoff.count() / 2 + 1));
        co_await backoff_sleep(*slot, backoff - jitter);
        backoff = std::min(backoff * 2, config_.max_backoff);
        continue;
      }
      note_success();
      backoff = config_.min_backoff;
      std::unique_ptr<net::TlsStream> stream = std::move(*connected);

      // Idle until the proxy dials (or closes: then simply dial again).
      std::string buffer;
      slot->idle = stream.get();
      auto [ec, n] =
          co_await asio::async_read_until(*stream, asio::dynamic_buffer(buffer, kMaxDialLine), '\n', kTuple);
      slot->idle = nullptr;
      if (ec) {
        if (!stopped_) log::debug("tunnel", "idle tunnel connection closed", {{"error", ec.message()}});
        continue;
      }
      auto request = decode_dial_line(std::string_view(buffer).substr(0, n - 1));
      Status accepted;
      if (!request.ok()) accepted = request.error();
      if (request.ok()) {
        // The proxy sends nothing after its line until we answer; keep any extra bytes anyway.
        request->initial_data += buffer.substr(n);
        if (stopped_)
          accepted = unavailable("the database agent is shutting down");
        else if (config_.accept)
          accepted = config_.accept(*request);
      }
      auto answered =
          co_await internal::write_all(*stream, encode_dial_answer(accepted),
                                       std::chrono::duration_cast<std::chrono::milliseconds>(kAnswerTimeout));
      if (!accepted.ok() || !answered.ok()) {
        if (!accepted.ok()) log::debug("tunnel", "dial refused", {{"error", accepted.error().message}});
        boost::system::error_code ignored;
        stream->next_layer().close(ignored);
        continue;
      }
      // The session moves to another event loop (as the proxy's dial() does), so the replacement
      // this slot dials next does not run its handshake on the thread setting the session up.
      asio::io_context* session_loop = &loop_for_session(slot->loop);
      if (session_loop != &slot->loop) {
        boost::system::error_code ec;
        stream->rebind(session_loop->get_executor(), ec);
        if (ec) {
          log::warn("tunnel",
                    "cannot move a session to another event loop; it runs on its tunnel connection's",
                    {{"error", ec.message()}});
          session_loop = &slot->loop;
        }
      }
      // A loop from session_io has one thread; io_ may have several.
      asio::any_io_executor executor = net::session_executor(*session_loop, bool(config_.session_io));
      asio::co_spawn(executor, handler_(std::move(*request), std::move(stream)),
                     [](std::exception_ptr e) { log_exception("session", e); });
    }
  }

  // The next loop from session_io that is not the slot's own, unless there is only that one.
  asio::io_context& loop_for_session(asio::io_context& slot_loop) {
    if (!config_.session_io) return slot_loop;
    asio::io_context* next = &config_.session_io();
    if (next == &slot_loop) next = &config_.session_io();  // a round robin shared with others
    return *next;
  }

  asio::io_context& io_;
  TunnelAgentConfig config_;
  DialHandler handler_;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  ssl::context* context_ = nullptr;
  std::vector<std::unique_ptr<ssl::context>> contexts_;
  bool connected_ = false;
  std::chrono::steady_clock::time_point last_failure_log_{};
};

}  // namespace

std::shared_ptr<TunnelAgent> start_tunnel_agent(asio::io_context& io, TunnelAgentConfig config,
                                                DialHandler handler) {
  auto agent = std::make_shared<PooledTunnelAgent>(io, std::move(config), std::move(handler));
  agent->start();
  return agent;
}

}  // namespace tp::tunnel
