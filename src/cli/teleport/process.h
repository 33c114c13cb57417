// `teleport start`: runs the services a config enables in one process, on one
// io_context, until SIGINT/SIGTERM.
#pragma once

#include "service/config.h"

namespace tp {

// Blocks until the process is told to stop; returns the exit code.
int run_teleport(const TeleportConfig& config);

}  // namespace tp
