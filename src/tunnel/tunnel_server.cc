// Proxy side of the reverse tunnel: per-agent queues of idle connections.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>
#include <mutex>

#include "common/log.h"
#include "tunnel/dial_line.h"
#include "tunnel/internal/stream_io.h"
#include "tunnel/tunnel.h"

namespace tp::tunnel {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kDialTimeout{5000};
// How long dial() waits for a replacement when a live agent's pool is empty.
constexpr std::chrono::milliseconds kEmptyPoolWait{2000};
constexpr std::chrono::milliseconds kEmptyPoolPoll{20};

struct IdleConnection {
  std::unique_ptr<net::TlsStream> stream;
};

class PooledTunnelServer final : public TunnelServer,
                                 public std::enable_shared_from_this<PooledTunnelServer> {
 public:
  explicit PooledTunnelServer(std::chrono::milliseconds recently_seen) : recently_seen_(recently_seen) {}

  void add_connection(const std::string& host_id, net::TlsStream stream) override {
    auto entry = std::make_shared<IdleConnection>();
    entry->stream = std::make_unique<net::TlsStream>(std::move(stream));
    internal::enable_keepalive(entry->stream->next_layer());
    std::weak_ptr<PooledTunnelServer> weak = shared_from_this();
    std::lock_guard lock(mu_);
    auto& agent = agents_[host_id];
    agent.last_added = Clock::now();
    agent.idle.push_back(entry);
    // The agent writes nothing on an idle connection: readable means closed.
    // Started under the lock so dial() cannot cancel before the wait exists.
    entry->stream->next_layer().async_wait(net::tcp::socket::wait_read, [weak, host_id, entry](auto ec) {
      if (ec == asio::error::operation_aborted) return;
      if (auto self = weak.lock()) self->drop_idle(host_id, entry);
    });
    log::debug("tunnel", "agent connection added",
               {{"host_id", host_id}, {"idle", std::to_string(agent.idle.size())}});
  }

  asio::awaitable<Result<std::unique_ptr<net::TlsStream>>> dial(const std::string& host_id,
                                                                const DialRequest& request) override {
    auto self = shared_from_this();  // outlive the caller's references while suspended
    const std::string line = encode_dial_line(request);
    const auto give_up = Clock::now() + kEmptyPoolWait;
    std::string last_failure;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (true) {
      auto [entry, live] = take_idle(host_id);
      if (!entry) {
        if (!live || Clock::now() >= give_up) {
          // (No ?: with class temporaries in coroutines: GCC 12 may destroy them twice.)
          std::string why;
          if (!last_failure.empty()) why = " (last attempt: " + last_failure + ")";
          co_return unavailable("database agent " + host_id +
                                " has no reverse tunnel connection to this proxy" + why +
                                "; is its Database Service running?");
        }
        timer.expires_after(kEmptyPoolPoll);
        boost::system::error_code ignored;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        continue;
      }
      boost::system::error_code ignored;
      auto session = co_await asio::this_coro::executor;
      if (&asio::query(session, asio::execution::context) ==
          &asio::query(entry->stream->get_executor(), asio::execution::context)) {
        entry->stream->next_layer().cancel(ignored);  // stop the idle watch; it consumed nothing
      } else {
        // Onto the session's event loop (net/io_pool.h); releasing the socket ends the idle watch.
        // If it cannot move, it serves from its own loop.
        boost::system::error_code not_moved;
        entry->stream->rebind(session, not_moved);
        if (not_moved) entry->stream->next_layer().cancel(ignored);
      }
      auto sent = co_await internal::write_all(*entry->stream, line, kDialTimeout);
      Status answer = sent;
      if (sent.ok()) {
        auto answer_line = co_await internal::read_short_line(*entry->stream, kMaxAnswerLine, kDialTimeout);
        if (answer_line.ok())
          answer = decode_dial_answer(*answer_line);
        else
          answer = answer_line.error();
        if (answer.ok()) co_return std::move(entry->stream);
        if (answer_line.ok()) {
          // The agent is alive and said no (unknown database, foreign cancel key).
          entry->stream->next_layer().close(ignored);
          co_return answer.error();
        }
      }
      // A dead connection: try the next one.
      last_failure = answer.error().message;
      log::debug("tunnel", "skipping dead agent connection", {{"host_id", host_id}, {"error", last_failure}});
      entry->stream->next_layer().close(ignored);
    }
  }

  std::vector<std::string> connected_agents() const override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    // A burst of sessions can drain an agent's idle pool for a moment: an agent whose pool was
    // just emptied by dials (not by its connections closing) still counts, and dial() waits for
    // the replacements it is already dialling.
    const auto now = Clock::now();
    for (const auto& [host_id, agent] : agents_)
      if (!agent.idle.empty() || now - agent.last_taken < recently_seen_) out.push_back(host_id);
    return out;
  }

 private:
  struct Agent {
    std::deque<std::shared_ptr<IdleConnection>> idle;
    Clock::time_point last_added{};
    Clock::time_point last_taken{};  // when dial() last took an idle connection
  };

  // The oldest idle connection, and whether the agent looks alive.
  std::pair<std::shared_ptr<IdleConnection>, bool> take_idle(const std::string& host_id) {
    std::lock_guard lock(mu_);
    auto it = agents_.find(host_id);
    if (it == agents_.end()) return {nullptr, false};
    auto& agent = it->second;
    // Alive: it added a connection lately, or a dial took one lately and the
    // agent is dialling its replacement. An agent that added its pool long ago
    // and has been idle since is as alive as one that just did.
    const auto now = Clock::now();
    bool live = now - agent.last_added < recently_seen_ || now - agent.last_taken < recently_seen_;
    if (agent.idle.empty()) return {nullptr, live};
    auto entry = std::move(agent.idle.front());
    agent.idle.pop_front();
    agent.last_taken = Clock::now();
    return {std::move(entry), true};
  }

  void drop_idle(const std::string& host_id, const std::shared_ptr<IdleConnection>& entry) {
    {
      std::lock_guard lock(mu_);
      auto it = agents_.find(host_id);
      if (it == agents_.end()) return;
      auto& idle = it->second.idle;
      auto pos = std::find(idle.begin(), idle.end(), entry);
      if (pos == idle.end()) return;  // dial() took it
      idle.erase(pos);
    }
    log::debug("tunnel", "agent connection closed while idle", {{"host_id", host_id}});
    boost::system::error_code ignored;
    entry->stream->next_layer().close(ignored);
  }

  const std::chrono::milliseconds recently_seen_;
  mutable std::mutex mu_;
  std::map<std::string, Agent> agents_;
};

}  // namespace

std::shared_ptr<TunnelServer> make_tunnel_server(asio::io_context& /*io*/, std::chrono::milliseconds recently_seen) {
  return std::make_shared<PooledTunnelServer>(recently_seen);
}

}  // namespace tp::tunnel
