// Turns what a MySQL client sends into audit records (DESIGN section 2, step 7): a COM_QUERY is one
// record with its SQL; COM_STMT_PREPARE's text is remembered under the statement id the server
// gives it (COM_STMT_PREPARE_OK), and each COM_STMT_EXECUTE is one record with that text and the
// parameters decoded to text (dev.mysql.com "COM_STMT_EXECUTE", "Binary Protocol Value"); a
// COM_INIT_DB is recorded as "USE `db`". Implements the codec's DecoderCallbacks and holds no I/O,
// so the relay stays a byte copy.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/mysql/decoder.h"

namespace tp::db {

class MysqlQueryAuditor final : public mysql::DecoderCallbacks {
 public:
  using Record = std::function<void(std::string_view query, std::vector<std::string> parameters)>;
  // Called when the server accepted COM_INIT_DB: the session's current database changed.
  using DatabaseChanged = std::function<void(const std::string& database)>;
  MysqlQueryAuditor(Record record, DatabaseChanged database_changed)
      : record_(std::move(record)), database_changed_(std::move(database_changed)) {}

  void on_command(const mysql::Command& command) override;
  void on_query(std::string_view text) override;
  void on_init_db(std::string_view schema) override;
  void on_stmt_prepare_ok(const mysql::StmtPrepareOk& ok, std::string_view text) override;
  void on_stmt_close(uint32_t statement_id) override;
  void on_quit() override { quit_ = true; }
  void on_local_infile_request(std::string_view /*filename*/) override { local_infile_ = true; }
  void on_response_complete(mysql::CommandType command, const mysql::ResponseSummary& summary) override;

  bool quit() const { return quit_; }
  // The server asked for a LOCAL INFILE file and the client is sending it: its packets are data,
  // not commands, until the empty packet that ends the file (then call local_infile_done()).
  bool in_local_infile() const { return local_infile_; }
  void local_infile_done() { local_infile_ = false; }
  size_t prepared_statements() const { return statements_.size(); }

  // Statements remembered per session, to bound memory under a client that never closes them;
  // past it the oldest ids are forgotten (their executions are then recorded without text).
  static constexpr size_t kMaxStatements = 4096;

 private:
  struct Statement {
    std::string text;
    uint16_t num_params = 0;
    std::vector<uint16_t> types;   // bound by the last execute that sent them
    std::set<uint16_t> long_data;  // parameters sent with COM_STMT_SEND_LONG_DATA since the last execute
  };
  void on_execute(const mysql::Command& command);
  Statement* find(uint32_t statement_id);

  Record record_;
  DatabaseChanged database_changed_;
  std::map<uint32_t, Statement> statements_;
  uint32_t last_prepared_ = 0;
  std::vector<std::string> pending_init_db_;  // COM_INIT_DB sent, response not yet complete
  bool quit_ = false;
  bool local_infile_ = false;
};

// The parameters of a COM_STMT_EXECUTE body (after the iteration count), as text: NULL, numbers,
// strings (invalid UTF-8 is replaced when the event is encoded), dates as 'YYYY-MM-DD hh:mm:ss'.
// `types` holds the statement's bound types and is updated when the body binds new ones;
// `long_data` names parameters whose value came in COM_STMT_SEND_LONG_DATA. Errors on a body that
// does not match `num_params`.
Result<std::vector<std::string>> decode_execute_parameters(std::string_view body, uint16_t num_params,
                                                           std::vector<uint16_t>& types,
                                                           const std::set<uint16_t>& long_data);

}  // namespace tp::db
