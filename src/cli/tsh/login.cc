// tsh login, status, logout and users set-password.
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include "cli/tsh/client.h"
#include "cli/tsh/commands.h"
#include "common/files.h"
#include "common/strings.h"
#include "crypto/certs.h"
#include "crypto/keys.h"
#include "net/http.h"

namespace tp::tsh {

namespace {

termios g_saved_termios;

void restore_echo_and_exit(int) {
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  _exit(130);
}

// One secret: typed without echo on a terminal; otherwise one line of stdin, so scripts and tests
// can pipe it in.
Result<std::string> read_secret(const std::string& prompt) {
  std::string line;
  if (isatty(STDIN_FILENO)) {
    std::cerr << prompt << " " << std::flush;
    tcgetattr(STDIN_FILENO, &g_saved_termios);
    termios quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    auto previous = std::signal(SIGINT, restore_echo_and_exit);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    bool ok = static_cast<bool>(std::getline(std::cin, line));
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    std::signal(SIGINT, previous);
    std::cerr << "\n";
    if (!ok) return invalid_argument("no input");
  } else if (!std::getline(std::cin, line)) {
    return invalid_argument("expected the secret on standard input (one line): " + prompt);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::vector<std::string> split_pems(const std::string& text) {
  static const std::string kEnd = "-----END CERTIFICATE-----";
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t begin = text.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string::npos) break;
    size_t end = text.find(kEnd, begin);
    if (end == std::string::npos) break;
    out.push_back(text.substr(begin, end + kEnd.size() - begin) + "\n");
    pos = end + kEnd.size();
  }
  return out;
}

struct LoginTrust {
  net::TlsClientConfig tls;
  std::string trust;  // profile.h kTrust*
};

// How tsh trusts a proxy it logs in to (or sets a password through), in this order: --insecure;
// --ca-file; --ca-pin (the host CA is fetched unverified and accepted only if its pin matches);
// the CA stored by an earlier login to the same proxy; else the system's roots.
Result<LoginTrust> login_trust(const GlobalOptions& g, const ProfileStore& store, const HostPort& addr) {
  LoginTrust out;
  out.tls.server_name = addr.host;
  if (g.insecure) {
    std::cerr << "WARNING: you are using an insecure connection to the Teleport proxy https://" << addr.str()
              << " (--insecure): its certificate is not verified. Use this only in test setups.\n";
    out.tls.insecure_skip_verify = true;
    out.trust = kTrustInsecure;
    return out;
  }
  if (!g.ca_file.empty()) {
    auto ca = read_file(g.ca_file);
    if (!ca.ok()) return ca.error().wrap("--ca-file");
    out.tls.ca_pems = {*ca};
    out.trust = kTrustHostCa;
    return out;
  }
  if (!g.ca_pin.empty()) {
    net::TlsClientConfig unverified = out.tls;
    unverified.insecure_skip_verify = true;
    auto r = net::HttpsClient(addr, unverified).raw("GET", "/v1/webapi/auth/export?type=tls-host", "");
    if (!r.ok()) return r.error().wrap("fetching the cluster's CA to check --ca-pin");
    for (const auto& pem : split_pems(r->body)) {
      auto pin = ca_pin(pem);
      if (pin.ok() && constant_time_equal(*pin, g.ca_pin)) {
        out.tls.ca_pems = {pem};
        out.trust = kTrustHostCa;
        return out;
      }
    }
    return unauthenticated("the proxy at " + addr.str() + " presents a CA that does not match --ca-pin=" + g.ca_pin +
                           "; check the pin ('tctl status' on the auth host prints it)");
  }
  Profile probe;
  probe.web_proxy_addr = addr.str();
  if (auto stored = store.load(probe.name()); stored.ok() && stored->trust == kTrustHostCa) {
    if (auto ca = read_file(store.ca_path(*stored)); ca.ok()) {
      out.tls.ca_pems = {*ca};
      out.trust = kTrustHostCa;
      return out;
    }
  }
  out.trust = kTrustSystem;
  return out;
}

Error explain_untrusted(const Error& e, const LoginTrust& trust, const HostPort& addr) {
  if (trust.trust != kTrustSystem || e.code != ErrorCode::kUnauthenticated) return e;
  return unauthenticated(e.message + "\nThe proxy's certificate is not trusted by this system. Pass the cluster's CA "
                         "with --ca-file=<file>, its pin with --ca-pin=sha256:... ('tctl status' prints it), or, "
                         "for a test setup only, --insecure (e.g. tsh login --proxy=" + addr.str() + " --insecure)");
}

std::string traits_line(const Identity& id, const std::string& key) {
  auto it = id.traits.find(key);
  return it == id.traits.end() || it->second.empty() ? "-" : join(it->second, ", ");
}

void print_status(const ProfileStore& store, const Profile& p, bool active) {
  auto creds = load_credentials(store, p, false);
  std::cout << (active ? "> " : "  ") << "Profile URL:        https://" << p.web_proxy_addr << "\n";
  std::cout << "  Logged in as:       " << p.user << "\n";
  std::cout << "  Cluster:            " << p.cluster << "\n";
  if (!creds.ok()) {
    std::cout << "  Credentials:        missing; run '" << login_command(p) << "'\n";
    return;
  }
  const Identity& id = creds->identity;
  std::cout << "  Roles:              " << (id.roles.empty() ? "-" : join(id.roles, ", ")) << "\n";
  std::cout << "  Database users:     " << traits_line(id, "db_users") << "\n";
  std::cout << "  Database names:     " << traits_line(id, "db_names") << "\n";
  auto now = system_clock().now();
  std::cout << "  Valid until:        " << format_rfc3339(id.expires);
  if (id.expires <= now) {
    std::cout << " [EXPIRED]\n";
  } else {
    std::cout << " [valid for "
              << format_duration(std::chrono::duration_cast<std::chrono::seconds>(id.expires - now)) << "]\n";
  }
  std::vector<std::string> dbs;
  for (const auto& name : store.db_logins(p)) {
    auto cert = load_db_certificate(store, p, name);
    if (!cert.ok() || !cert->identity.route) continue;
    const auto& route = *cert->identity.route;
    dbs.push_back(name + " (user: " + route.username + (route.database.empty() ? "" : ", database: " + route.database) +
                  (cert->identity.expires <= now ? ", EXPIRED" : "") + ")");
  }
  if (!dbs.empty()) std::cout << "  Databases:          " << join(dbs, "\n                      ") << "\n";
  if (id.expires <= now) std::cout << "\nYour credentials have expired; run '" << login_command(p) << "'\n";
}

}  // namespace

int fail(const Error& error) {
  std::cerr << "ERROR: " << error.message << "\n";
  return 1;
}

int cmd_login(const GlobalOptions& g, const LoginOptions& o) {
  auto store = ProfileStore::from_environment();
  auto existing = store.current();
  std::string proxy = g.proxy;
  if (proxy.empty() && existing.ok()) proxy = existing->web_proxy_addr;
  if (proxy.empty())
    return fail(invalid_argument("--proxy: name the proxy, e.g. tsh login --proxy=teleport.example.com:443 --user=alice"));
  auto addr = parse_host_port(proxy, 3080);
  if (!addr.ok()) return fail(addr.error().wrap("--proxy"));
  Profile p;
  p.web_proxy_addr = addr->str();
  p.user = g.user;
  if (p.user.empty() && existing.ok() && existing->name() == p.name()) p.user = existing->user;
  if (p.user.empty() && std::getenv("USER")) p.user = std::getenv("USER");
  if (p.user.empty()) return fail(invalid_argument("--user: name the Teleport user"));

  auto trust = login_trust(g, store, *addr);
  if (!trust.ok()) return fail(trust.error());
  p.trust = trust->trust;
  net::HttpsClient anonymous(*addr, trust->tls);
  auto ping = anonymous.call("GET", "/v1/webapi/ping");
  if (!ping.ok()) return fail(explain_untrusted(ping.error(), *trust, *addr));
  p.cluster = ping->value("cluster_name", "");
  if (p.cluster.empty()) return fail(internal_error("the proxy at " + addr->str() + " did not name its cluster"));
  if (auto px = ping->find("proxy"); px != ping->end() && px->is_object()) {
    p.postgres_proxy_addr = px->value("postgres_listen_addr", "");
    p.mysql_proxy_addr = px->value("mysql_listen_addr", "");
  }
  std::string second_factor = "off";
  if (auto au = ping->find("auth"); au != ping->end() && au->is_object()) second_factor = au->value("second_factor", "off");

  auto password = read_secret("Enter password for Teleport user " + p.user + ":");
  if (!password.ok()) return fail(password.error());
  std::string totp;
  if (second_factor == "otp" || second_factor == "on" || second_factor == "optional") {
    auto code = read_secret("Enter an OTP code from a device:");
    if (!code.ok()) return fail(code.error());
    totp = *code;
  }
  int64_t ttl_seconds = 0;
  if (!o.ttl.empty()) {
    auto ttl = parse_duration(o.ttl);
    if (!ttl.ok()) return fail(ttl.error().wrap("--ttl"));
    ttl_seconds = ttl->count();
  }
  auto key = PrivateKey::generate();
  if (!key.ok()) return fail(key.error());
  auto response = anonymous.call("POST", "/v1/webapi/login",
                                 {{"user", p.user},
                                  {"password", *password},
                                  {"totp_code", totp},
                                  {"public_key", key->public_key_pem()},
                                  {"ttl_seconds", ttl_seconds}});
  if (!response.ok()) return fail(response.error().wrap("login failed"));
  std::string cert = response->value("cert", "");
  std::string host_cas;
  if (auto cas = response->find("host_cas"); cas != response->end() && cas->is_array())
    for (const auto& c : *cas)
      if (c.is_string()) host_cas += c.get<std::string>();
  if (cert.empty() || host_cas.empty()) return fail(internal_error("the proxy's login answer lacks certificates"));

  // A different user on the same proxy replaces the old one's keys and database certificates.
  if (auto old = store.load(p.name()); old.ok() && old->user != p.user) {
    if (auto s = store.remove(*old); !s.ok()) return fail(s.error());
  }
  for (auto s : {make_dirs(store.keys_dir(p) + "/cas", 0700), write_file_atomic(store.key_path(p), key->to_pem(), 0600),
                 write_file_atomic(store.cert_path(p), cert, 0600), write_file_atomic(store.ca_path(p), host_cas, 0600),
                 store.save(p)})
    if (!s.ok()) return fail(s.error());
  print_status(store, p, true);
  return 0;
}

int cmd_status(const GlobalOptions&) {
  auto store = ProfileStore::from_environment();
  auto current = store.current();
  if (!current.ok()) return fail(current.error());
  print_status(store, *current, true);
  for (const auto& p : store.all())
    if (p.name() != current->name()) {
      std::cout << "\n";
      print_status(store, p, false);
    }
  return 0;
}

int cmd_logout(const GlobalOptions& g) {
  auto store = ProfileStore::from_environment();
  auto profiles = store.all();
  if (!g.proxy.empty()) {
    std::string name = profile_name_for(g.proxy);
    std::erase_if(profiles, [&](const Profile& p) { return p.name() != name; });
  }
  if (profiles.empty()) {
    std::cout << "You are not logged in.\n";
    return 0;
  }
  for (const auto& p : profiles) {
    if (auto s = store.remove(p); !s.ok()) return fail(s.error());
    std::cout << "Logged out " << p.user << " from " << p.web_proxy_addr << ".\n";
  }
  return 0;
}

int cmd_set_password(const GlobalOptions& g, const std::string& invite_token) {
  auto store = ProfileStore::from_environment();
  std::string proxy = g.proxy;
  if (proxy.empty())
    if (auto current = store.current(); current.ok()) proxy = current->web_proxy_addr;
  if (proxy.empty()) return fail(invalid_argument("--proxy: name the proxy from the invite link (host:port)"));
  if (invite_token.empty()) return fail(invalid_argument("--invite: the token from the invite link"));
  auto addr = parse_host_port(proxy, 3080);
  if (!addr.ok()) return fail(addr.error().wrap("--proxy"));
  auto trust = login_trust(g, store, *addr);
  if (!trust.ok()) return fail(trust.error());
  auto password = read_secret("Enter a new password:");
  if (!password.ok()) return fail(password.error());
  if (isatty(STDIN_FILENO)) {
    auto again = read_secret("Confirm the password:");
    if (!again.ok()) return fail(again.error());
    if (*again != *password) return fail(invalid_argument("the two passwords differ; run the command again"));
  }
  net::HttpsClient client(*addr, trust->tls);
  auto r = client.call("POST", "/v1/webapi/users/invite/" + net::url_encode(invite_token), {{"password", *password}});
  if (!r.ok()) return fail(explain_untrusted(r.error(), *trust, *addr));
  std::string user = r->value("user", "");
  std::cout << "Password set for user " << user << ". Log in with:\n  tsh login --proxy=" << addr->str()
            << " --user=" << user << (g.insecure ? " --insecure" : "") << "\n";
  return 0;
}

}  // namespace tp::tsh
