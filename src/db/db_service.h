// The Database Service (the agent) as `teleport start` runs it: joins the
// cluster (or reuses its stored identity), dials the reverse tunnel, serves
// database sessions through the protocol engines, heartbeats its databases,
// renews its certificate, and shuts down gracefully on SIGTERM. See
// db/database_service.h for the parts.
#pragma once

#include "common/result.h"

namespace tp {

struct ServiceSet;

// Starts the service on services.io and registers its graceful stop in
// services.on_stop. Fails fast on configuration errors and a refused join.
Status start_db_service(ServiceSet& services);

}  // namespace tp
