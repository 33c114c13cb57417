// The running Database Service: identity, the Auth Service link, the tunnel
// agent, the engines, and a control thread for heartbeats and renewal.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "db/host_identity.h"

namespace tp {
struct ServiceSet;
}

namespace tp::db {

inline constexpr std::chrono::seconds kHeartbeatInterval{20};
inline constexpr std::chrono::seconds kHeartbeatTtl{60};
inline constexpr std::chrono::minutes kCaRefreshInterval{10};
// How long running sessions may go on after SIGTERM before they are asked to
// end; TELEPORT_DB_SHUTDOWN_GRACE (e.g. "3s") overrides it.
inline constexpr std::chrono::seconds kDefaultShutdownGrace{5};

class DatabaseService {
 public:
  static Result<DatabaseService*> start(ServiceSet& services);
  ~DatabaseService();

  // Stops accepting, removes the heartbeats, waits for sessions up to the
  // grace period, ends the rest, flushes the audit log. Blocks.
  void stop();

  HostIdentity identity() const;

 private:
  struct Parts;
  explicit DatabaseService(std::unique_ptr<Parts> parts);
  Status obtain_identity(ServiceSet& services);
  Status build(ServiceSet& services);
  void control_loop();
  void heartbeat_all();
  void renew_if_due();
  void refresh_cas();

  std::unique_ptr<Parts> parts_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread control_;
};

}  // namespace tp::db
