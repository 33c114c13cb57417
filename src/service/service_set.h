// What `teleport start` hands to each service it starts: the main io_context,
// the config, the in-process Auth Service when there is one, and where sessions run.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <vector>

#include "service/config.h"

namespace tp {

class AuthService;

struct ServiceSet {
  boost::asio::io_context& io;
  const TeleportConfig& config;
  AuthService* auth;                         // null when this process runs no Auth Service
  std::vector<std::function<void()>> on_stop;  // run on SIGINT/SIGTERM, in order
  // The event loop for a new session (net/io_pool.h); unset: `io`. Each loop it returns is run by
  // one thread, so a session on it needs no strand.
  std::function<boost::asio::io_context&()> session_io;
  // All the loops session_io hands out (the proxy spreads agents' tunnel connections over them).
  std::vector<boost::asio::io_context*> loops;
};

}  // namespace tp
