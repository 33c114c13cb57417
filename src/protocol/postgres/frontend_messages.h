// Messages a PostgreSQL client (frontend) sends after startup: decoders for the ones a proxy
// inspects, and encoders for the ones a client-side engine sends. Layouts: PostgreSQL documentation,
// "Frontend/Backend Protocol" → "Message Formats"; sequencing: "Message Flow" → "Simple Query",
// "Extended Query", "Termination".
//
// Decoders take the payload of one framed message (after the type byte and length word, see
// framer.h) and return views into it: the payload must outlive the decoded value (PayloadView refuses
// a temporary std::string at compile time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/postgres/framer.h"

namespace tp::pg {

// Frontend type bytes (protocol 3.0).
namespace frontend_type {
inline constexpr char kBind = 'B';
inline constexpr char kClose = 'C';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyFail = 'f';
inline constexpr char kDescribe = 'D';
inline constexpr char kExecute = 'E';
inline constexpr char kFlush = 'H';
inline constexpr char kFunctionCall = 'F';
inline constexpr char kParse = 'P';
// PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse: which one depends on the
// authentication request it answers.
inline constexpr char kAuthResponse = 'p';
inline constexpr char kQuery = 'Q';
inline constexpr char kSync = 'S';
inline constexpr char kTerminate = 'X';
}  // namespace frontend_type

struct Query {
  std::string_view text;
};

struct Parse {
  std::string_view statement;  // "" is the unnamed statement
  std::string_view query;
  std::vector<uint32_t> param_type_oids;  // 0 leaves a parameter's type to the server
};

// Format codes: 0 text, 1 binary.
struct Bind {
  std::string_view portal;     // "" is the unnamed portal
  std::string_view statement;  // "" is the unnamed statement
  // Empty: all text; one entry: applies to every parameter; else one per parameter.
  std::vector<int16_t> param_formats;
  std::vector<std::optional<std::string_view>> param_values;  // nullopt is SQL NULL (length -1)
  std::vector<int16_t> result_formats;

  size_t param_count() const { return param_values.size(); }
  // The format of parameter i under the rules above.
  int16_t param_format(size_t i) const;
};

struct Execute {
  std::string_view portal;
  int32_t max_rows = 0;  // 0: no limit
};

// Describe and Close name either a prepared statement ('S') or a portal ('P').
inline constexpr char kTargetStatement = 'S';
inline constexpr char kTargetPortal = 'P';

struct Describe {
  char target = kTargetStatement;
  std::string_view name;
};

struct Close {
  char target = kTargetStatement;
  std::string_view name;
};

// Answers AuthenticationCleartextPassword (the password) or AuthenticationMD5Password ("md5" + hex).
struct PasswordMessage {
  std::string_view password;
};

struct SaslInitialResponse {
  std::string_view mechanism;            // e.g. "SCRAM-SHA-256"
  std::optional<std::string_view> data;  // nullopt when the length is -1
};

struct SaslResponse {
  std::string_view data;
};

Result<Query> parse_query(PayloadView payload);
Result<Parse> parse_parse(PayloadView payload);
Result<Bind> parse_bind(PayloadView payload);
Result<Execute> parse_execute(PayloadView payload);
Result<Describe> parse_describe(PayloadView payload);
Result<Close> parse_close(PayloadView payload);
Result<PasswordMessage> parse_password_message(PayloadView payload);
Result<SaslInitialResponse> parse_sasl_initial_response(PayloadView payload);
Result<SaslResponse> parse_sasl_response(PayloadView payload);
// Sync, Flush and Terminate carry nothing; this checks that the payload is empty.
Status parse_empty_message(PayloadView payload, std::string_view message_name);

// Encoders return one complete message (type byte, length word, payload). String fields are cut at
// an embedded NUL, which the protocol cannot carry.
std::string encode_query(std::string_view text);
std::string encode_parse(std::string_view statement, std::string_view query,
                         const std::vector<uint32_t>& param_type_oids = {});
// Sends all parameters in text format and asks for text results.
std::string encode_bind(std::string_view portal, std::string_view statement,
                        const std::vector<std::optional<std::string>>& param_values);
std::string encode_execute(std::string_view portal, int32_t max_rows = 0);
std::string encode_describe(char target, std::string_view name);
std::string encode_sync();
std::string encode_terminate();
std::string encode_password_message(std::string_view password);
std::string encode_sasl_initial_response(std::string_view mechanism, std::optional<std::string_view> data);
std::string encode_sasl_response(std::string_view data);

}  // namespace tp::pg
