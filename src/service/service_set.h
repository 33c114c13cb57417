// What `teleport start` hands to each service it starts: the shared
// io_context, the config, and the in-process Auth Service when there is one.
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
};

}  // namespace tp
