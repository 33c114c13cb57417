#include "proxy/internal/web_pages.h"

namespace tp::proxy::internal {

namespace {

net::HttpResponse page(const std::string& title, const std::string& body, int status = 200) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
      "</title><style>body{font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em}"
      "input{display:block;width:100%;margin:.3em 0 1em;padding:.4em}button{padding:.5em 1.5em}"
      ".error{color:#a00}code{background:#eee;padding:.1em .3em}</style></head><body>\n" +
      body + "\n</body></html>\n";
  auto r = net::HttpResponse::text(std::move(html), "text/html; charset=utf-8", status);
  r.headers.push_back({"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"});
  r.headers.push_back({"X-Frame-Options", "DENY"});
  r.headers.push_back({"Cache-Control", "no-store"});
  r.headers.push_back({"Referrer-Policy", "no-referrer"});  // the token is in the URL
  return r;
}

std::string form(const std::string& token) {
  return "<form method=\"post\" action=\"/v1/webapi/users/invite/" + html_escape(token) +
         "\">\n<label>New password<input type=\"password\" name=\"password\" autocomplete=\"new-password\" "
         "required minlength=\"6\"></label>\n"
         "<label>Confirm password<input type=\"password\" name=\"password_confirm\" "
         "autocomplete=\"new-password\" required></label>\n<button type=\"submit\">Set password</button>\n</form>";
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

net::HttpResponse invite_page(const std::string& token) {
  return page("Teleport: set your password",
              "<h1>Welcome to Teleport</h1>\n<p>Choose a password for your new account.</p>\n" + form(token));
}

net::HttpResponse invite_done_page(const std::string& user, const std::string& proxy_addr) {
  return page("Teleport: password set",
              "<h1>Password set</h1>\n<p>The password for <b>" + html_escape(user) +
                  "</b> is set. Log in from a terminal with</p>\n<p><code>tsh login --proxy=" +
                  html_escape(proxy_addr) + " --user=" + html_escape(user) + "</code></p>");
}

net::HttpResponse invite_failed_page(const Error& error, const std::string& token) {
  return page("Teleport: password not set",
              "<h1>Password not set</h1>\n<p class=\"error\">" + html_escape(error.message) + "</p>\n" + form(token),
              net::http_status_for(error.code));
}

net::HttpResponse landing_page(const std::string& cluster_name, const std::string& proxy_addr) {
  return page("Teleport " + cluster_name,
              "<h1>Teleport cluster " + html_escape(cluster_name) +
                  "</h1>\n<p>This is the Teleport Proxy Service. Log in from a terminal with</p>\n"
                  "<p><code>tsh login --proxy=" + html_escape(proxy_addr) + " --user=&lt;user&gt;</code></p>");
}

}  // namespace tp::proxy::internal
