// A protocol engine: serves one database session arriving over the reverse
// tunnel. PostgreSQL lives in db/postgres/; MySQL plugs in the same way.
// Asio-heavy: include from .cc files only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "common/result.h"
#include "tunnel/tunnel.h"

namespace tp::db {

class Engine {
 public:
  virtual ~Engine() = default;
  // Checked before the agent accepts a dial for this engine; an error goes back
  // to the proxy (which may then try another agent).
  virtual Status accept_dial(const tunnel::DialRequest& /*request*/) { return {}; }
  // One session, from the client's first byte to the end event. Run it on `client`'s executor: a
  // tunnel stream is used from its connection's event loop only (tunnel/mux.h).
  virtual boost::asio::awaitable<void> serve(tunnel::DialRequest request,
                                             std::unique_ptr<tunnel::MuxStream> client) = 0;
};

}  // namespace tp::db
