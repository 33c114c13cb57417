// Structured logging: one line per event, "component: message key=value ...".
// A thin layer over spdlog so the format is set in one place.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tp::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Field = std::pair<std::string_view, std::string_view>;

void init(Level level, bool json = false);
Level parse_level(std::string_view name);  // "debug", "info", "warn", "error"; default info

void write(Level level, std::string_view component, std::string_view message,
           std::initializer_list<Field> fields = {});

inline void debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kDebug, c, m, f); }
inline void info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kInfo, c, m, f); }
inline void warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kWarn, c, m, f); }
inline void error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kError, c, m, f); }

}  // namespace tp::log
