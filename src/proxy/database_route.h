// Routing a database client to an agent (DESIGN section 2, step 4): which route the client's
// certificate names and which agents may carry it. Pure: the Asio side is in internal/.
#pragma once

#include <string>
#include <vector>

#include "auth/types.h"
#include "common/result.h"
#include "common/rng.h"
#include "crypto/identity.h"

namespace tp::proxy {

// The route a verified user identity carries, checked against the protocol the client speaks
// ("postgres" or "mysql"). Errors say which tsh command fixes them.
Result<DatabaseRoute> route_for_client(const Identity& user, const std::string& protocol);

// The agents to try, in random order (spreads load, DESIGN "high availability"): the hosts with a
// live heartbeat for the database that also hold a reverse tunnel right now. Each host appears once.
std::vector<std::string> agents_to_try(const std::vector<DatabaseServer>& servers,
                                       const std::vector<std::string>& connected_agents, Rng& rng);

// The hosts that should hear a PostgreSQL CancelRequest: every connected agent serving a postgres
// database (only `db_name` when set). The agent that owns the key cancels; the others ignore it.
std::vector<std::string> cancel_targets(const std::vector<DatabaseServer>& servers,
                                        const std::vector<std::string>& connected_agents,
                                        const std::string& db_name = "");

Error no_agent_error(const std::string& db_name);

// A short random id for a database session: 16 random bytes as a UUID-shaped string.
std::string new_session_id(Rng& rng);

}  // namespace tp::proxy
