#include "aws/env.h"

#include <cstdlib>

#include "common/files.h"

namespace tp::aws {

std::optional<std::string> SystemEnv::get(std::string_view name) const {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string SystemEnv::home_dir() const {
  return tp::home_dir();
}

SystemEnv& system_env() {
  static SystemEnv env;
  return env;
}

std::string region_from_env(const Env& env) {
  if (auto r = env.get("AWS_REGION")) return *r;
  if (auto r = env.get("AWS_DEFAULT_REGION")) return *r;
  return "";
}

}  // namespace tp::aws
