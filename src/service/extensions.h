// The services other than auth (proxy, database agent, discovery) register a
// starter here, so that the process wiring does not depend on them.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <vector>

#include "common/result.h"
#include "service/config.h"

namespace tp {

class AuthService;

struct ServiceSet {
  boost::asio::io_context& io;
  const TeleportConfig& config;
  AuthService* auth;  // null when this process runs no Auth Service
  std::vector<std::function<void()>> on_stop;
};

using ServiceStarter = std::function<Status(ServiceSet&)>;
std::vector<ServiceStarter>& service_extensions();

}  // namespace tp
