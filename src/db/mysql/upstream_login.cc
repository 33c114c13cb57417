#include "db/mysql/upstream_login.h"

#include "protocol/mysql/auth.h"

namespace tp::db {

namespace m = tp::mysql;

namespace {

// Capabilities that change the bytes of the command phase (result set terminators, OK layout,
// COM_QUERY layout, metadata): when the client negotiated one, the server must have it too.
constexpr uint64_t kLayoutCapabilities = m::CLIENT_PROTOCOL_41 | m::CLIENT_DEPRECATE_EOF |
                                         m::CLIENT_SESSION_TRACK | m::CLIENT_QUERY_ATTRIBUTES |
                                         m::CLIENT_OPTIONAL_RESULTSET_METADATA | m::kMariaDbCapabilitiesMask;
// About the client's own link or its login, never passed on.
constexpr uint64_t kClientLinkCapabilities =
    m::CLIENT_SSL | m::CLIENT_COMPRESS | m::CLIENT_ZSTD_COMPRESSION_ALGORITHM |
    m::CLIENT_SSL_VERIFY_SERVER_CERT | m::CLIENT_REMEMBER_OPTIONS | m::CLIENT_CAPABILITY_EXTENSION |
    m::MULTI_FACTOR_AUTHENTICATION | m::CLIENT_CONNECT_WITH_DB | m::CLIENT_PLUGIN_AUTH |
    m::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | m::CLIENT_CONNECT_ATTRS | m::CLIENT_SECURE_CONNECTION;
// What the agent's own login needs from the server.
constexpr uint64_t kLoginCapabilities =
    m::CLIENT_PROTOCOL_41 | m::CLIENT_SECURE_CONNECTION | m::CLIENT_PLUGIN_AUTH;

std::string capability_names(uint64_t caps) {
  static const std::pair<uint64_t, const char*> kNames[] = {
      {m::CLIENT_PROTOCOL_41, "CLIENT_PROTOCOL_41"},
      {m::CLIENT_SECURE_CONNECTION, "CLIENT_SECURE_CONNECTION"},
      {m::CLIENT_PLUGIN_AUTH, "CLIENT_PLUGIN_AUTH"},
      {m::CLIENT_DEPRECATE_EOF, "CLIENT_DEPRECATE_EOF"},
      {m::CLIENT_SESSION_TRACK, "CLIENT_SESSION_TRACK"},
      {m::CLIENT_QUERY_ATTRIBUTES, "CLIENT_QUERY_ATTRIBUTES"},
      {m::CLIENT_OPTIONAL_RESULTSET_METADATA, "CLIENT_OPTIONAL_RESULTSET_METADATA"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames)
    if (caps & bit) out += (out.empty() ? "" : ", ") + std::string(name);
  if (caps & m::kMariaDbCapabilitiesMask) out += std::string(out.empty() ? "" : ", ") + "MariaDB extensions";
  return out;
}

}  // namespace

Result<uint64_t> upstream_capabilities(uint64_t client, uint64_t server) {
  if (!(server & m::CLIENT_SSL))
    return unavailable(
        "the database server does not offer TLS (no CLIENT_SSL); configure ssl-cert and ssl-key "
        "on the server");
  if (uint64_t missing = kLoginCapabilities & ~server)
    return unavailable("the database server lacks " + capability_names(missing) +
                       "; MySQL 5.7+ or MariaDB 10.2+ is required");
  if (uint64_t missing = client & kLayoutCapabilities & ~server)
    return unavailable("the database server lacks " + capability_names(missing) +
                       ", which the client negotiated; MySQL 5.7+ or MariaDB 10.2+ is required");
  uint64_t out = client & server & ~kClientLinkCapabilities;
  out |= m::CLIENT_SSL | kLoginCapabilities;
  out |= server & (m::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | m::CLIENT_CONNECT_ATTRS);
  // A MariaDB server reads extended capabilities only when CLIENT_MYSQL is unset; the client's
  // link said whether it wanted any.
  if (out & m::kMariaDbCapabilitiesMask) out &= ~m::CLIENT_MYSQL;
  return out;
}

Error MysqlUpstreamLogin::fail(const std::string& what) const {
  return unavailable("database \"" + request_.db_service + "\": " + what);
}

Error MysqlUpstreamLogin::server_refused(std::string_view payload) {
  auto err = m::parse_err_packet(payload, state_ == State::kGreeting ? 0 : capabilities_);
  if (!err.ok()) return fail("the server sent a malformed error packet: " + err.error().message);
  server_error_ = *err;
  std::string message = "database \"" + request_.db_service + "\" refused the login as \"" + request_.user +
                        "\": " + err->message;
  if (!request_.password && err->error_code == 1045) message += " (" + request_.missing_password + ")";
  // 1045 and friends are about credentials; anything else (too many connections, ...) is the
  // server being unavailable to us.
  bool credentials = err->error_code == 1045 || err->error_code == 1044 || err->error_code == 1698;
  return credentials ? unauthenticated(message) : unavailable(message);
}

Result<std::string> MysqlUpstreamLogin::on_greeting(const m::Packet& packet) {
  if (state_ != State::kGreeting) return internal_error("MySQL upstream login: greeting already read");
  if (m::is_err_packet(packet.payload)) return server_refused(packet.payload);
  auto greeting = m::parse_handshake_v10(packet.payload);
  if (!greeting.ok()) return fail("reading the server greeting: " + greeting.error().message);
  greeting_ = std::move(*greeting);
  TP_TRY(capabilities_, upstream_capabilities(request_.client_capabilities, greeting_.capabilities));
  if (!request_.database.empty()) capabilities_ |= m::CLIENT_CONNECT_WITH_DB;
  plugin_ =
      greeting_.auth_plugin_name.empty() ? std::string(m::kNativePasswordPlugin) : greeting_.auth_plugin_name;
  scramble_ = std::string(m::scramble_from_plugin_data(greeting_.auth_plugin_data));
  state_ = State::kTls;
  m::SslRequest ssl{capabilities_, request_.max_packet_size, request_.character_set};
  return m::encode_packet(m::encode_ssl_request(ssl), static_cast<uint8_t>(packet.last_sequence_id + 1));
}

Result<std::string> MysqlUpstreamLogin::need_password(std::string_view plugin) const {
  if (request_.password) return *request_.password;
  return fail("the server asks for a password (" + std::string(plugin) +
              ") but the agent has none: " + request_.missing_password);
}

Result<std::string> MysqlUpstreamLogin::auth_response(std::string_view plugin, std::string_view scramble,
                                                      bool first) {
  if (plugin == m::kNativePasswordPlugin) {
    if (!request_.password && first) return std::string();  // an account without a password
    TP_TRY(std::string password, need_password(plugin));
    return m::native_password_scramble(password, scramble);
  }
  if (plugin == m::kCachingSha2PasswordPlugin) {
    if (!request_.password && first) return std::string();
    TP_TRY(std::string password, need_password(plugin));
    return m::caching_sha2_scramble(password, scramble);
  }
  if (plugin == m::kClearPasswordPlugin) {
    // Only ever sent inside TLS (this login runs after the TLS handshake).
    TP_TRY(std::string password, need_password(plugin));
    return m::clear_password_response(password);
  }
  if (first) {
    // The greeting names a plugin we do not speak (e.g. client_ed25519 as a server default):
    // start with mysql_native_password and let the server switch us to what the account needs.
    plugin_ = std::string(m::kNativePasswordPlugin);
    return auth_response(plugin_, scramble, true);
  }
  return fail(
      "the server asks for the authentication plugin \"" + std::string(plugin) +
      "\", which the agent does not support; give the database user mysql_native_password, "
      "caching_sha2_password, or PAM/IAM with mysql_clear_password (MariaDB: pam_use_cleartext_plugin=ON)");
}

Result<std::string> MysqlUpstreamLogin::handshake_response() {
  if (state_ != State::kTls) return internal_error("MySQL upstream login: handshake response out of order");
  m::HandshakeResponse41 r;
  r.capabilities = capabilities_;
  r.max_packet_size = request_.max_packet_size;
  r.character_set = request_.character_set ? request_.character_set : greeting_.character_set;
  r.username = request_.user;
  r.database = request_.database;
  TP_TRY(r.auth_response, auth_response(plugin_, scramble_, true));
  r.auth_plugin_name = plugin_;
  if (capabilities_ & m::CLIENT_CONNECT_ATTRS) r.connect_attributes = request_.connect_attributes;
  auto payload = m::encode_handshake_response41(r);
  if (!payload.ok()) return fail(payload.error().message);
  state_ = State::kAuth;
  // Greeting 0, SSLRequest 1, HandshakeResponse41 2.
  return m::encode_packet(*payload, 2);
}

Result<MysqlUpstreamLogin::Step> MysqlUpstreamLogin::on_packet(const m::Packet& packet) {
  if (state_ != State::kAuth) return internal_error("MySQL upstream login: packet out of order");
  const uint8_t reply_id = static_cast<uint8_t>(packet.last_sequence_id + 1);
  std::string_view payload = packet.payload;
  if (payload.empty()) return fail("the server sent an empty packet during login");
  Step step;
  switch (static_cast<uint8_t>(payload[0])) {
    case m::kOkHeader: {
      auto ok = m::parse_ok_packet(payload, capabilities_);
      if (!ok.ok()) return fail("reading the server's OK: " + ok.error().message);
      step.done = true;
      step.ok = std::move(*ok);
      state_ = State::kDone;
      return step;
    }
    case m::kErrHeader:
      return server_refused(payload);
    case m::kEofHeader: {  // AuthSwitchRequest
      auto change = m::parse_auth_switch_request(payload);
      if (!change.ok()) return fail(change.error().message);
      plugin_ = change->plugin_name;
      scramble_ = std::string(m::scramble_from_plugin_data(change->plugin_data));
      TP_TRY(std::string response, auth_response(plugin_, scramble_, false));
      step.reply = m::encode_packet(response, reply_id);
      return step;
    }
    case m::kAuthMoreDataHeader: {
      auto data = m::parse_auth_more_data(payload);
      if (!data.ok()) return fail(data.error().message);
      if (plugin_ != m::kCachingSha2PasswordPlugin)
        return fail("unexpected AuthMoreData from the server during " + plugin_);
      switch (m::classify_caching_sha2_more_data(*data)) {
        case m::CachingSha2Step::kFastAuthSuccess:
          return step;  // the OK follows
        case m::CachingSha2Step::kPerformFullAuth: {
          TP_TRY(std::string password, need_password(plugin_));
          step.reply = m::encode_packet(m::caching_sha2_full_auth_response(password), reply_id);
          return step;
        }
        case m::CachingSha2Step::kOther:
          break;
      }
      return fail("unexpected caching_sha2_password data from the server");
    }
    default:
      return fail("unexpected packet during login (first byte " +
                  std::to_string(static_cast<uint8_t>(payload[0])) + ")");
  }
}

}  // namespace tp::db
