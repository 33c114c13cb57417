// Constants of the MySQL/MariaDB client/server protocol. Names follow the protocol documentation
// (dev.mysql.com "Client/Server Protocol", include/mysql_com.h; mariadb.com "Connection") so that a
// reader can grep the spec for them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tp::mysql {

// Capabilities Flags (mysql_com.h, CLIENT_*): the low 32 bits. MariaDB puts its extended
// capabilities in the upper 32 bits of the same 64-bit value (see MARIADB_CLIENT_* below); every
// capabilities field in this codec is a uint64_t laid out that way.
inline constexpr uint64_t CLIENT_LONG_PASSWORD = 1ULL << 0;
// MariaDB reuses bit 0 as CLIENT_MYSQL: a MariaDB server clears it to say "the filler bytes of the
// handshake carry extended capabilities".
inline constexpr uint64_t CLIENT_MYSQL = CLIENT_LONG_PASSWORD;
inline constexpr uint64_t CLIENT_FOUND_ROWS = 1ULL << 1;
inline constexpr uint64_t CLIENT_LONG_FLAG = 1ULL << 2;
inline constexpr uint64_t CLIENT_CONNECT_WITH_DB = 1ULL << 3;
inline constexpr uint64_t CLIENT_NO_SCHEMA = 1ULL << 4;
inline constexpr uint64_t CLIENT_COMPRESS = 1ULL << 5;
inline constexpr uint64_t CLIENT_ODBC = 1ULL << 6;
inline constexpr uint64_t CLIENT_LOCAL_FILES = 1ULL << 7;
inline constexpr uint64_t CLIENT_IGNORE_SPACE = 1ULL << 8;
inline constexpr uint64_t CLIENT_PROTOCOL_41 = 1ULL << 9;
inline constexpr uint64_t CLIENT_INTERACTIVE = 1ULL << 10;
inline constexpr uint64_t CLIENT_SSL = 1ULL << 11;
inline constexpr uint64_t CLIENT_IGNORE_SIGPIPE = 1ULL << 12;
inline constexpr uint64_t CLIENT_TRANSACTIONS = 1ULL << 13;
inline constexpr uint64_t CLIENT_RESERVED = 1ULL << 14;
inline constexpr uint64_t CLIENT_SECURE_CONNECTION = 1ULL << 15;  // a.k.a. CLIENT_RESERVED2
inline constexpr uint64_t CLIENT_MULTI_STATEMENTS = 1ULL << 16;
inline constexpr uint64_t CLIENT_MULTI_RESULTS = 1ULL << 17;
inline constexpr uint64_t CLIENT_PS_MULTI_RESULTS = 1ULL << 18;
inline constexpr uint64_t CLIENT_PLUGIN_AUTH = 1ULL << 19;
inline constexpr uint64_t CLIENT_CONNECT_ATTRS = 1ULL << 20;
inline constexpr uint64_t CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1ULL << 21;
inline constexpr uint64_t CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1ULL << 22;
inline constexpr uint64_t CLIENT_SESSION_TRACK = 1ULL << 23;
inline constexpr uint64_t CLIENT_DEPRECATE_EOF = 1ULL << 24;
inline constexpr uint64_t CLIENT_OPTIONAL_RESULTSET_METADATA = 1ULL << 25;
inline constexpr uint64_t CLIENT_ZSTD_COMPRESSION_ALGORITHM = 1ULL << 26;
inline constexpr uint64_t CLIENT_QUERY_ATTRIBUTES = 1ULL << 27;
inline constexpr uint64_t MULTI_FACTOR_AUTHENTICATION = 1ULL << 28;
inline constexpr uint64_t CLIENT_CAPABILITY_EXTENSION = 1ULL << 29;
inline constexpr uint64_t CLIENT_SSL_VERIFY_SERVER_CERT = 1ULL << 30;
inline constexpr uint64_t CLIENT_REMEMBER_OPTIONS = 1ULL << 31;

// MariaDB extended capabilities (mariadb_com.h), sent in the last 4 filler bytes of
// Protocol::HandshakeV10 and HandshakeResponse41 when CLIENT_MYSQL is unset.
inline constexpr uint64_t MARIADB_CLIENT_PROGRESS = 1ULL << 32;
inline constexpr uint64_t MARIADB_CLIENT_RESERVED_1 = 1ULL << 33;  // was MARIADB_CLIENT_COM_MULTI
inline constexpr uint64_t MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1ULL << 34;
inline constexpr uint64_t MARIADB_CLIENT_EXTENDED_METADATA = 1ULL << 35;
inline constexpr uint64_t MARIADB_CLIENT_CACHE_METADATA = 1ULL << 36;
inline constexpr uint64_t MARIADB_CLIENT_BULK_UNIT_RESULTS = 1ULL << 37;
inline constexpr uint64_t kMariaDbCapabilitiesMask = 0xFFFFFFFF00000000ULL;

// SERVER_STATUS_* (mysql_com.h "enum SERVER_STATUS_flags_enum"), carried by OK and EOF packets.
inline constexpr uint16_t SERVER_STATUS_IN_TRANS = 1 << 0;
inline constexpr uint16_t SERVER_STATUS_AUTOCOMMIT = 1 << 1;
inline constexpr uint16_t SERVER_MORE_RESULTS_EXISTS = 1 << 3;
inline constexpr uint16_t SERVER_QUERY_NO_GOOD_INDEX_USED = 1 << 4;
inline constexpr uint16_t SERVER_QUERY_NO_INDEX_USED = 1 << 5;
inline constexpr uint16_t SERVER_STATUS_CURSOR_EXISTS = 1 << 6;
inline constexpr uint16_t SERVER_STATUS_LAST_ROW_SENT = 1 << 7;
inline constexpr uint16_t SERVER_STATUS_DB_DROPPED = 1 << 8;
inline constexpr uint16_t SERVER_STATUS_NO_BACKSLASH_ESCAPES = 1 << 9;
inline constexpr uint16_t SERVER_STATUS_METADATA_CHANGED = 1 << 10;
inline constexpr uint16_t SERVER_QUERY_WAS_SLOW = 1 << 11;
inline constexpr uint16_t SERVER_PS_OUT_PARAMS = 1 << 12;
inline constexpr uint16_t SERVER_STATUS_IN_TRANS_READONLY = 1 << 13;
inline constexpr uint16_t SERVER_SESSION_STATE_CHANGED = 1 << 14;

// First bytes of server responses ("Generic Response Packets").
inline constexpr uint8_t kOkHeader = 0x00;
inline constexpr uint8_t kAuthMoreDataHeader = 0x01;
inline constexpr uint8_t kLocalInfileHeader = 0xFB;
inline constexpr uint8_t kEofHeader = 0xFE;  // also OK-as-terminator and AuthSwitchRequest
inline constexpr uint8_t kErrHeader = 0xFF;

// Protocol::Packet: a physical packet carries at most 2^24-1 payload bytes; a payload of exactly
// that size means "the logical packet continues in the next physical packet".
inline constexpr size_t kPacketHeaderSize = 4;
inline constexpr size_t kMaxPacketChunk = 0xFFFFFF;
// Our sanity cap on one logical packet: MySQL 8's default max_allowed_packet.
inline constexpr size_t kDefaultMaxPacketSize = 64 * 1024 * 1024;

// Protocol::HandshakeV10 is protocol version 10; the scramble is 20 bytes (SCRAMBLE_LENGTH).
inline constexpr uint8_t kProtocolVersion10 = 10;
inline constexpr size_t kScrambleLength = 20;
// utf8mb4_general_ci: a safe default connection character set.
inline constexpr uint8_t kCharsetUtf8mb4GeneralCi = 45;

// COM_STMT_EXECUTE cursor flags ("enum_cursor_type").
inline constexpr uint8_t CURSOR_TYPE_NO_CURSOR = 0;
inline constexpr uint8_t CURSOR_TYPE_READ_ONLY = 1;
inline constexpr uint8_t CURSOR_TYPE_FOR_UPDATE = 2;
inline constexpr uint8_t CURSOR_TYPE_SCROLLABLE = 4;
inline constexpr uint8_t PARAMETER_COUNT_AVAILABLE = 8;

// MariaDB: COM_STMT_EXECUTE with statement id 0xFFFFFFFF means "the statement prepared last", which
// lets a client pipeline COM_STMT_PREPARE and COM_STMT_EXECUTE.
inline constexpr uint32_t kMariaDbLastPreparedStatement = 0xFFFFFFFF;

// MariaDB progress reports are ERR packets with this code (MARIADB_CLIENT_PROGRESS); they are not
// the end of a response.
inline constexpr uint16_t kMariaDbProgressReportCode = 0xFFFF;

}  // namespace tp::mysql
