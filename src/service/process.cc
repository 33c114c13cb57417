#include "service/process.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "service/auth_service.h"
#include "service/extensions.h"

namespace tp {

int run_teleport(const TeleportConfig& config) {
  log::init(log::parse_level(to_lower(config.log_severity)), config.log_format == "json");
  boost::asio::io_context io;
  std::unique_ptr<AuthService> auth;
  if (config.auth.enabled) {
    auto started = AuthService::start(io, config);
    if (!started.ok()) {
      std::cerr << "ERROR: " << started.error().message << "\n";
      return 1;
    }
    auth = std::move(*started);
  }
  ServiceSet services{io, config, auth.get()};
  for (const auto& ext : service_extensions()) {
    if (auto s = ext(services); !s.ok()) {
      std::cerr << "ERROR: " << s.error().message << "\n";
      return 1;
    }
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int sig) {
    log::info("teleport", "shutting down", {{"signal", std::to_string(sig)}});
    for (auto& stop : services.on_stop) stop();
    if (auth) auth->stop();
    io.stop();
  });
  log::info("teleport", "Teleport started", {{"version", TP_VERSION}, {"config", config.path}});
  std::cout << "Teleport v" TP_VERSION " is running" << std::endl;
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  return 0;
}

}  // namespace tp

namespace tp {
std::vector<ServiceStarter>& service_extensions() {
  static std::vector<ServiceStarter> starters;
  return starters;
}
}  // namespace tp
