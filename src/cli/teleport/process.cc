#include "cli/teleport/process.h"

#include <pthread.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>
#include <thread>

#include "common/fast_copies.h"
#include "common/log.h"
#include "common/strings.h"
#include "net/io_pool.h"
#include "service/auth_service.h"
#include "service/service_set.h"

#include "db/db_service.h"
#include "proxy/proxy_service.h"

namespace tp {

namespace {
int fail(const Error& e) {
  std::cerr << "ERROR: " << e.message << "\n";
  return 1;
}
}  // namespace

int run_teleport(const TeleportConfig& config) {
  log::init(log::parse_level(to_lower(config.log_severity)), config.log_format == "json");
  // A parent may have left SIGINT/SIGTERM blocked; a daemon must still hear them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  net::IoPool loops(config.io_threads);
  boost::asio::io_context& io = loops.main();
  std::unique_ptr<AuthService> auth;
  if (config.auth.enabled) {
    auto started = AuthService::start(io, config);
    if (!started.ok()) return fail(started.error());
    auth = std::move(*started);
  }
  ServiceSet services{io, config, auth.get(), {}, [&loops]() -> boost::asio::io_context& { return loops.next(); },
                      loops.all()};
  if (config.proxy.enabled) {
    if (auto s = start_proxy_service(services); !s.ok()) return fail(s.error());
  }
  if (config.db.enabled) {
    if (auto s = start_db_service(services); !s.ok()) return fail(s.error());
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int sig) {
    log::info("teleport", "shutting down", {{"signal", std::to_string(sig)}});
    for (auto& stop : services.on_stop) stop();
    if (auth) auth->stop();
    loops.stop();
  });
  log::info("teleport", "Teleport started", {{"version", TP_VERSION}, {"config", config.path}});
  if (auto threshold = fast_copies_threshold(); !threshold.empty())
    log::info("teleport", "this AMD CPU runs rep movsb slowly under glibc < 2.40: glibc copies with it only from rep_movsb_threshold bytes (GLIBC_TUNABLES)",
              {{"rep_movsb_threshold", threshold}});
  std::cout << "Teleport v" TP_VERSION " is running" << std::endl;
  loops.run();
  return 0;
}

}  // namespace tp
