// Starting tsh's local proxy for one logged-in database (tsh proxy db, tsh db connect).
#pragma once

#include <memory>
#include <string>

#include "cli/tsh/commands.h"
#include "proxy/local_proxy.h"

namespace tp::tsh {

// tunnel: the local proxy presents the database certificate (renewing it when it has expired) and
// the local client connects without TLS. Otherwise the local client brings the certificate and its
// own TLS layer, and the local proxy only adds TLS routing.
Result<std::shared_ptr<proxy::LocalProxy>> start_db_local_proxy(boost::asio::io_context& io, const GlobalOptions& g,
                                                                const ProfileStore& store, const Profile& profile,
                                                                const std::string& db_name,
                                                                const std::string& protocol, bool tunnel,
                                                                uint16_t port);

}  // namespace tp::tsh
