// Environment access for the AWS client, injectable so tests never touch the real environment.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tp::aws {

class Env {
 public:
  virtual ~Env() = default;
  // The variable's value; unset and empty both read as nullopt, as the AWS SDKs treat them.
  virtual std::optional<std::string> get(std::string_view name) const = 0;
  // Where "~/.aws" lives.
  virtual std::string home_dir() const = 0;
};

class SystemEnv final : public Env {
 public:
  std::optional<std::string> get(std::string_view name) const override;
  std::string home_dir() const override;
};

SystemEnv& system_env();

// For tests: variables from a map; HOME comes from the map too.
class MapEnv final : public Env {
 public:
  MapEnv() = default;
  explicit MapEnv(std::map<std::string, std::string, std::less<>> vars) : vars_(std::move(vars)) {}
  void set(std::string name, std::string value) { vars_[std::move(name)] = std::move(value); }
  std::optional<std::string> get(std::string_view name) const override {
    auto it = vars_.find(name);
    if (it == vars_.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }
  std::string home_dir() const override { return get("HOME").value_or("/nonexistent"); }

 private:
  std::map<std::string, std::string, std::less<>> vars_;
};

// AWS_REGION, then AWS_DEFAULT_REGION; empty when neither is set.
std::string region_from_env(const Env& env);

}  // namespace tp::aws
