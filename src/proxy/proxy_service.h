// The Proxy Service (DESIGN section 1): the web port (HTTPS API and TLS routing by ALPN), the native
// PostgreSQL and MySQL listeners and the reverse-tunnel listener. Runs in the Auth Service's process and calls
// the AuthServer directly; `teleport start` calls start_proxy_service when proxy_service is enabled.
#pragma once

#include "common/result.h"

namespace tp {

struct ServiceSet;

// Issues the proxy's host certificate, opens the configured listeners on services.io and registers
// their shutdown in services.on_stop. Errors name the listener or setting that failed.
Status start_proxy_service(ServiceSet& services);

}  // namespace tp
