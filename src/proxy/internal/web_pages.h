// The few HTML pages the web port serves: the invite form and its outcome. Plain HTML with inline
// style, no scripts, served with a restrictive Content-Security-Policy.
#pragma once

#include <string>

#include "net/http.h"

namespace tp::proxy::internal {

std::string html_escape(const std::string& text);

// The page behind the invite link from `tctl users add`: a password form that POSTs (form-encoded)
// to /v1/webapi/users/invite/<token>.
net::HttpResponse invite_page(const std::string& token);
// After the form: success names the user and the tsh login command; failure shows the error.
net::HttpResponse invite_done_page(const std::string& user, const std::string& proxy_addr);
net::HttpResponse invite_failed_page(const Error& error, const std::string& token);
net::HttpResponse landing_page(const std::string& cluster_name, const std::string& proxy_addr);

}  // namespace tp::proxy::internal
