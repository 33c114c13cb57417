// Socket settings both tunnel ends share. Asio-heavy: .cc files only.
#pragma once

#include "net/server.h"

namespace tp::tunnel::internal {

// TCP keepalive with short probes, so a peer that vanished without a FIN is
// noticed within about a minute on an idle tunnel connection.
void enable_keepalive(net::tcp::socket& socket);

}  // namespace tp::tunnel::internal
