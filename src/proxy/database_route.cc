#include "proxy/database_route.h"

#include <algorithm>
#include <set>

#include "common/strings.h"

namespace tp::proxy {

Result<DatabaseRoute> route_for_client(const Identity& user, const std::string& protocol) {
  if (!user.route || user.route->service_name.empty())
    return unauthenticated("the certificate of user \"" + user.username +
                           "\" is not a database certificate; run 'tsh db login <database> --db-user=<user>' and "
                           "connect with the certificate it writes (see 'tsh db config')");
  const DatabaseRoute& route = *user.route;
  if (!route.protocol.empty() && route.protocol != protocol)
    return invalid_argument("database \"" + route.service_name + "\" speaks " + route.protocol +
                            ", but this connection speaks " + protocol + "; use 'tsh db connect " +
                            route.service_name + "'");
  return route;
}

std::vector<std::string> agents_to_try(const std::vector<DatabaseServer>& servers,
                                       const std::vector<std::string>& connected_agents, Rng& rng) {
  std::set<std::string> connected(connected_agents.begin(), connected_agents.end());
  std::vector<std::string> out;
  for (const auto& s : servers)
    if (connected.count(s.host_id) && std::find(out.begin(), out.end(), s.host_id) == out.end())
      out.push_back(s.host_id);
  // Fisher-Yates with the injected Rng so tests can fix the order.
  for (size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[rng.u32() % i]);
  return out;
}

std::vector<std::string> cancel_targets(const std::vector<DatabaseServer>& servers,
                                        const std::vector<std::string>& connected_agents,
                                        const std::string& db_name) {
  std::set<std::string> connected(connected_agents.begin(), connected_agents.end());
  std::set<std::string> out;
  for (const auto& s : servers)
    if (s.database.protocol == "postgres" && (db_name.empty() || s.database.name == db_name) &&
        connected.count(s.host_id))
      out.insert(s.host_id);
  return {out.begin(), out.end()};
}

Error no_agent_error(const std::string& db_name) {
  return unavailable("no Database Service for \"" + db_name +
                     "\" is connected; check that its agent is running and can reach the proxy");
}

std::string new_session_id(Rng& rng) {
  std::string h = rng.hex(16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

}  // namespace tp::proxy
