// Proxy side of the reverse tunnel: each agent's multiplexed connections, spread over the event
// loops, and the streams opened on them.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <mutex>

#include "common/log.h"
#include "tunnel/dial_line.h"
#include "tunnel/internal/stream_io.h"
#include "tunnel/mux.h"
#include "tunnel/tunnel.h"

namespace tp::tunnel {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::chrono::milliseconds kDialTimeout{5000};
// How long dial() waits for a connection on its event loop when a live agent has none there (it is
// reconnecting, or dialling the connections want_connections asked for).
constexpr std::chrono::milliseconds kNoConnectionWait{2000};
constexpr std::chrono::milliseconds kNoConnectionPoll{20};

asio::execution_context* loop_of(const asio::any_io_executor& executor) {
  return &asio::query(executor, asio::execution::context);
}

struct AgentConnection {
  std::shared_ptr<MuxConnection> mux;
  asio::execution_context* loop = nullptr;
};

class MuxTunnelServer final : public TunnelServer, public std::enable_shared_from_this<MuxTunnelServer> {
 public:
  MuxTunnelServer(std::vector<asio::io_context*> loops, std::chrono::milliseconds recently_seen)
      : loops_(std::move(loops)), recently_seen_(recently_seen) {}

  void add_connection(const std::string& host_id, net::TlsStream stream) override {
    auto tls = std::make_unique<net::TlsStream>(std::move(stream));
    internal::enable_keepalive(tls->next_layer());
    asio::execution_context* loop = loop_of(tls->get_executor());
    if (asio::io_context* target = emptiest_loop(host_id); target && target != loop) {
      // Sessions run on their tunnel connection's loop: spread each agent's connections evenly.
      boost::system::error_code ec;
      tls->rebind(target->get_executor(), ec);
      if (!ec) loop = target;
    }
    auto entry = std::make_shared<AgentConnection>();
    entry->loop = loop;
    std::weak_ptr<MuxTunnelServer> weak = shared_from_this();
    std::weak_ptr<AgentConnection> weak_entry = entry;
    entry->mux = MuxConnection::start(std::move(tls), MuxConnection::Side::kProxy, MuxOptions{}, nullptr,
                                      [weak, host_id, weak_entry](const boost::system::error_code&) {
                                        auto self = weak.lock();
                                        auto e = weak_entry.lock();
                                        if (self && e) self->remove(host_id, e);
                                      });
    size_t connections = 0;
    {
      std::lock_guard lock(mu_);
      auto& agent = agents_[host_id];
      agent.last_added = Clock::now();
      agent.connections.push_back(entry);
      connections = agent.connections.size();
    }
    if (!loops_.empty()) {
      asio::post(entry->mux->get_executor(), [mux = entry->mux, n = static_cast<uint32_t>(loops_.size())] {
        mux->want_connections(n);
      });
    }
    log::debug("tunnel", "agent connection added",
               {{"host_id", host_id}, {"connections", std::to_string(connections)}});
  }

  asio::awaitable<Result<std::unique_ptr<MuxStream>>> dial(const std::string& host_id,
                                                           const DialRequest& request) override {
    auto self = shared_from_this();  // outlive the caller's references while suspended
    std::string line = encode_dial_line(request);
    line.pop_back();  // the frame delimits it
    auto executor = co_await asio::this_coro::executor;
    asio::execution_context* here = loop_of(executor);
    const auto give_up = Clock::now() + kNoConnectionWait;
    std::string last_failure;
    asio::steady_timer timer(executor);
    while (true) {
      auto [mux, live] = pick(host_id, here);
      if (!mux) {
        if (!live || Clock::now() >= give_up) {
          // (No ?: with class temporaries in coroutines: GCC 12 may destroy them twice.)
          std::string why;
          if (!last_failure.empty()) why = " (last attempt: " + last_failure + ")";
          co_return unavailable("database agent " + host_id + " has no reverse tunnel connection to this proxy" +
                                why + "; is its Database Service running?");
        }
        timer.expires_after(kNoConnectionPoll);
        co_await timer.async_wait(kTuple);
        continue;
      }
      timer.expires_after(kDialTimeout);
      auto outcome = co_await (mux->async_open(line, kTuple) || timer.async_wait(kTuple));
      if (outcome.index() == 1)
        co_return unavailable("database agent " + host_id + " did not answer within " +
                              std::to_string(kDialTimeout.count() / 1000) + " s");
      auto [ec, stream, answer] = std::move(std::get<0>(outcome));
      if (!ec) co_return std::move(stream);
      if (ec == asio::error::connection_refused && !answer.empty()) {
        // The agent is alive and said no (unknown database, foreign cancel key).
        Status refusal = decode_dial_answer(answer);
        if (!refusal.ok()) co_return refusal.error();
      }
      // A connection that ended or is draining: try another.
      last_failure = ec.message();
      log::debug("tunnel", "skipping agent connection", {{"host_id", host_id}, {"error", last_failure}});
    }
  }

  std::vector<std::string> connected_agents() const override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    // An agent whose connections just ended is reconnecting: for a while it still counts, and
    // dial() waits for it.
    const auto now = Clock::now();
    for (const auto& [host_id, agent] : agents_)
      if (alive(agent, now)) out.push_back(host_id);
    return out;
  }

 private:
  struct Agent {
    std::vector<std::shared_ptr<AgentConnection>> connections;
    Clock::time_point last_added{};
    Clock::time_point last_lost{};  // when one of its connections last ended
  };

  static bool usable(const Agent& agent) {
    for (const auto& c : agent.connections)
      if (!c->mux->going_away()) return true;
    return false;
  }

  // Whether the agent takes sessions now or soon: it has a usable connection, or it connected or
  // lost a connection within recently_seen_ and is reconnecting. A connection that has failed but
  // whose removal is still on its way counts as lost just now.
  bool alive(const Agent& agent, Clock::time_point now) const {
    if (usable(agent)) return true;
    if (now - agent.last_added < recently_seen_ || now - agent.last_lost < recently_seen_) return true;
    for (const auto& c : agent.connections)
      if (c->mux->closed()) return true;
    return false;
  }

  // The loop with the fewest of this agent's connections (the first loop on a tie).
  asio::io_context* emptiest_loop(const std::string& host_id) {
    if (loops_.empty()) return nullptr;
    std::lock_guard lock(mu_);
    std::map<asio::execution_context*, size_t> count;
    if (auto it = agents_.find(host_id); it != agents_.end())
      for (const auto& c : it->second.connections)
        if (!c->mux->going_away()) ++count[c->loop];
    asio::io_context* best = loops_.front();
    for (auto* loop : loops_)
      if (count[loop] < count[best]) best = loop;
    return best;
  }

  // The agent's connection on `loop` carrying the fewest streams, and whether the agent looks alive.
  std::pair<std::shared_ptr<MuxConnection>, bool> pick(const std::string& host_id, asio::execution_context* loop) {
    std::lock_guard lock(mu_);
    auto it = agents_.find(host_id);
    if (it == agents_.end()) return {nullptr, false};
    const Agent& agent = it->second;
    std::shared_ptr<MuxConnection> best;
    for (const auto& c : agent.connections) {
      if (c->loop != loop || c->mux->going_away()) continue;
      if (!best || c->mux->open_streams() < best->open_streams()) best = c->mux;
    }
    return {best, alive(agent, Clock::now())};
  }

  void remove(const std::string& host_id, const std::shared_ptr<AgentConnection>& entry) {
    std::lock_guard lock(mu_);
    auto it = agents_.find(host_id);
    if (it == agents_.end()) return;
    auto& list = it->second.connections;
    list.erase(std::remove(list.begin(), list.end(), entry), list.end());
    it->second.last_lost = Clock::now();
    log::debug("tunnel", "agent connection closed",
               {{"host_id", host_id}, {"connections", std::to_string(list.size())}});
  }

  const std::vector<asio::io_context*> loops_;
  const std::chrono::milliseconds recently_seen_;
  mutable std::mutex mu_;
  std::map<std::string, Agent> agents_;
};

}  // namespace

std::shared_ptr<TunnelServer> make_tunnel_server(std::vector<asio::io_context*> loops,
                                                 std::chrono::milliseconds recently_seen) {
  return std::make_shared<MuxTunnelServer>(std::move(loops), recently_seen);
}

}  // namespace tp::tunnel
