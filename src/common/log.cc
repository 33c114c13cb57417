#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace tp::log {
namespace {

bool g_json = false;
Level g_level = Level::kInfo;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = [] {
    auto lg = spdlog::stderr_color_mt("teleport");
    lg->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
    lg->set_level(spdlog::level::trace);
    return lg;
  }();
  return l;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\n') return true;
  return false;
}

}  // namespace

void init(Level level, bool json) {
  g_level = level;
  g_json = json;
  logger();
}

Level parse_level(std::string_view name) {
  if (name == "debug" || name == "DEBUG") return Level::kDebug;
  if (name == "warn" || name == "WARN" || name == "warning") return Level::kWarn;
  if (name == "error" || name == "ERROR") return Level::kError;
  return Level::kInfo;
}

void write(Level level, std::string_view component, std::string_view message,
           std::initializer_list<Field> fields) {
  if (level < g_level) return;
  std::string line;
  if (g_json) {
    nlohmann::json j{{"component", component}, {"message", message}};
    for (const auto& [k, v] : fields) j[std::string(k)] = v;
    line = j.dump();
  } else {
    line.append(component).append(": ").append(message);
    for (const auto& [k, v] : fields) {
      line.append(" ").append(k).append("=");
      if (needs_quotes(v)) line.append(nlohmann::json(v).dump());
      else line.append(v);
    }
  }
  auto lvl = level == Level::kDebug  ? spdlog::level::debug
             : level == Level::kInfo ? spdlog::level::info
             : level == Level::kWarn ? spdlog::level::warn
                                     : spdlog::level::err;
  logger()->log(lvl, "{}", line);
}

}  // namespace tp::log
