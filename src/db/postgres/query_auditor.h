// Turns the client's queries into audit records (DESIGN section 2, step 7):
// a simple Query is one record; in the extended protocol a Bind is one
// execution of a statement prepared by Parse, recorded with that statement's
// text and the Bind's parameters. Implements the decoder's callbacks; holds no
// I/O, so the relay stays a byte copy and the records go to a queue.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/postgres/decoder.h"

namespace tp::db {

class QueryAuditor final : public pg::DecoderCallbacks {
 public:
  using Record = std::function<void(std::string_view query, std::vector<std::string> parameters)>;
  explicit QueryAuditor(Record record) : record_(std::move(record)) {}

  void on_query(std::string_view text) override;
  void on_parse(const pg::Parse& parse) override;
  void on_bind(const pg::Bind& bind) override;
  void on_close(const pg::Close& close) override;
  void on_terminate() override { terminated_ = true; }

  bool terminated() const { return terminated_; }
  size_t prepared_statements() const { return statements_.size(); }

  // Prepared statements remembered per session, to bound memory under a
  // client that never closes them; past it the oldest names are forgotten.
  static constexpr size_t kMaxStatements = 4096;

 private:
  Record record_;
  std::map<std::string, std::string, std::less<>> statements_;
  std::vector<std::string> order_;  // insertion order, for eviction
  bool terminated_ = false;
};

}  // namespace tp::db
