// Messages a PostgreSQL server (backend) sends: decoders for the ones a proxy or client-side engine
// reads, and encoders for the ones a server-side engine sends. Layouts: PostgreSQL documentation,
// "Frontend/Backend Protocol" → "Message Formats" and "Error and Notice Message Fields"; sequencing:
// "Message Flow" → "Start-up" (authentication), "Simple Query", "Asynchronous Operations".
//
// Decoders take the payload of one framed message (after the type byte and length word, see
// framer.h) and return views into it: the payload must outlive the decoded value (PayloadView refuses
// a temporary std::string at compile time).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/postgres/framer.h"

namespace tp::pg {

// Backend type bytes (protocol 3.0).
namespace backend_type {
inline constexpr char kAuthentication = 'R';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kBindComplete = '2';
inline constexpr char kCloseComplete = '3';
inline constexpr char kCommandComplete = 'C';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyInResponse = 'G';
inline constexpr char kCopyOutResponse = 'H';
inline constexpr char kCopyBothResponse = 'W';
inline constexpr char kDataRow = 'D';
inline constexpr char kEmptyQueryResponse = 'I';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kFunctionCallResponse = 'V';
inline constexpr char kNegotiateProtocolVersion = 'v';
inline constexpr char kNoData = 'n';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kNotificationResponse = 'A';
inline constexpr char kParameterDescription = 't';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kParseComplete = '1';
inline constexpr char kPortalSuspended = 's';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kRowDescription = 'T';
}  // namespace backend_type

// The Int32 that follows 'R' and says which Authentication message this is.
enum class AuthRequest : int32_t {
  kOk = 0,
  kKerberosV5 = 2,
  kCleartextPassword = 3,
  kMd5Password = 5,
  kGss = 7,
  kGssContinue = 8,
  kSspi = 9,
  kSasl = 10,
  kSaslContinue = 11,
  kSaslFinal = 12,
};

struct Authentication {
  AuthRequest request = AuthRequest::kOk;
  std::array<uint8_t, 4> md5_salt{};              // kMd5Password
  std::vector<std::string_view> sasl_mechanisms;  // kSasl, in the server's order of preference
  std::string_view data;                          // kSaslContinue, kSaslFinal, kGssContinue
};

struct ParameterStatus {
  std::string_view name;
  std::string_view value;
};

struct BackendKeyData {
  int32_t process_id = 0;
  int32_t secret_key = 0;
};

enum class TransactionStatus : char {
  kIdle = 'I',
  kInTransaction = 'T',
  kFailedTransaction = 'E',
};

struct ReadyForQuery {
  TransactionStatus status = TransactionStatus::kIdle;
};

// ErrorResponse and NoticeResponse share one layout: (Byte1 code, String value)*, then NUL. Codes are
// listed in "Error and Notice Message Fields".
struct ErrorResponse {
  std::map<char, std::string_view> fields;

  std::string_view field(char code) const;
  std::string_view severity() const { return field('S'); }  // localized; 'V' is never localized
  std::string_view sqlstate() const { return field('C'); }
  std::string_view message() const { return field('M'); }
  std::string_view detail() const { return field('D'); }
  std::string_view hint() const { return field('H'); }
};
using NoticeResponse = ErrorResponse;

struct CommandComplete {
  std::string_view tag;  // e.g. "SELECT 3", "INSERT 0 1"
};

struct FieldDescription {
  std::string_view name;
  uint32_t table_oid = 0;
  int16_t column_number = 0;
  uint32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_modifier = 0;
  int16_t format = 0;  // 0 text, 1 binary
};

struct RowDescription {
  std::vector<FieldDescription> fields;
};

struct DataRow {
  std::vector<std::optional<std::string_view>> values;  // nullopt is SQL NULL
};

struct NotificationResponse {
  int32_t process_id = 0;
  std::string_view channel;
  std::string_view payload;
};

struct NegotiateProtocolVersion {
  int32_t newest_minor = 0;
  std::vector<std::string_view> unrecognized_options;
};

Result<Authentication> parse_authentication(PayloadView payload);
Result<ParameterStatus> parse_parameter_status(PayloadView payload);
Result<BackendKeyData> parse_backend_key_data(PayloadView payload);
Result<ReadyForQuery> parse_ready_for_query(PayloadView payload);
// Also for NoticeResponse.
Result<ErrorResponse> parse_error_response(PayloadView payload);
Result<CommandComplete> parse_command_complete(PayloadView payload);
Result<RowDescription> parse_row_description(PayloadView payload);
Result<DataRow> parse_data_row(PayloadView payload);
Result<NotificationResponse> parse_notification_response(PayloadView payload);
Result<NegotiateProtocolVersion> parse_negotiate_protocol_version(PayloadView payload);

// SQLSTATE codes ("PostgreSQL Error Codes" appendix) an engine commonly reports.
namespace sqlstate {
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kConnectionFailure = "08006";
inline constexpr const char* kProtocolViolation = "08P01";
inline constexpr const char* kInvalidAuthorizationSpecification = "28000";
inline constexpr const char* kInvalidPassword = "28P01";
inline constexpr const char* kInvalidCatalogName = "3D000";
inline constexpr const char* kInsufficientPrivilege = "42501";
inline constexpr const char* kTooManyConnections = "53300";
inline constexpr const char* kQueryCanceled = "57014";
inline constexpr const char* kAdminShutdown = "57P01";
inline constexpr const char* kInternalError = "XX000";
}  // namespace sqlstate

// What an engine reports to a client. Empty detail/hint are omitted.
struct ErrorReport {
  std::string severity = "ERROR";  // ERROR, FATAL or PANIC; WARNING, NOTICE, ... for notices
  std::string sqlstate = sqlstate::kInternalError;
  std::string message;
  std::string detail;
  std::string hint;
};

// Encoders return one complete message. String fields are cut at an embedded NUL.
std::string encode_authentication_ok();
std::string encode_authentication_cleartext_password();
std::string encode_authentication_md5_password(const std::array<uint8_t, 4>& salt);
std::string encode_authentication_sasl(const std::vector<std::string>& mechanisms);
std::string encode_authentication_sasl_continue(std::string_view data);
std::string encode_authentication_sasl_final(std::string_view data);
std::string encode_parameter_status(std::string_view name, std::string_view value);
std::string encode_backend_key_data(int32_t process_id, int32_t secret_key);
std::string encode_ready_for_query(TransactionStatus status);
// Writes S and V (both the severity), C, M, then D and H when set.
std::string encode_error_response(const ErrorReport& report);
std::string encode_notice_response(const ErrorReport& report);
std::string encode_command_complete(std::string_view tag);
std::string encode_negotiate_protocol_version(int32_t newest_minor,
                                              const std::vector<std::string>& unrecognized_options);

}  // namespace tp::pg
