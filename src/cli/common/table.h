// Plain-text tables as tctl and tsh print them: a header, a dashed rule, rows.
#pragma once

#include <string>
#include <vector>

namespace tp {

std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace tp
