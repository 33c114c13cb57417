#include "db/postgres/query_auditor.h"

#include <algorithm>

namespace tp::db {

void QueryAuditor::on_query(std::string_view text) {
  record_(text, {});
}

void QueryAuditor::on_parse(const pg::Parse& parse) {
  std::string name(parse.statement);
  auto [it, inserted] = statements_.insert_or_assign(name, std::string(parse.query));
  (void)it;
  if (!inserted) return;
  order_.push_back(name);
  if (statements_.size() > kMaxStatements) {
    statements_.erase(order_.front());
    order_.erase(order_.begin());
  }
}

void QueryAuditor::on_bind(const pg::Bind& bind) {
  std::vector<std::string> parameters;
  parameters.reserve(bind.param_count());
  for (size_t i = 0; i < bind.param_count(); ++i) {
    const auto& value = bind.param_values[i];
    if (!value)
      parameters.emplace_back("NULL");
    else if (bind.param_format(i) == 0)
      parameters.emplace_back(*value);
    else
      parameters.push_back("<binary, " + std::to_string(value->size()) + " bytes>");
  }
  auto it = statements_.find(bind.statement);
  record_(it == statements_.end() ? std::string_view() : std::string_view(it->second), std::move(parameters));
}

void QueryAuditor::on_close(const pg::Close& close) {
  if (close.target != pg::kTargetStatement) return;
  auto it = statements_.find(close.name);
  if (it == statements_.end()) return;
  order_.erase(std::find(order_.begin(), order_.end(), it->first));
  statements_.erase(it);
}

}  // namespace tp::db
