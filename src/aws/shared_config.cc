// Providers 2 and 3 of the chain (see credentials.h): the shared credentials file and the shared
// config file, including role_arn + source_profile profiles that assume a role through STS.
#include "aws/shared_config.h"

#include "aws/credentials.h"
#include "aws/sts.h"
#include "common/files.h"
#include "common/strings.h"

namespace tp::aws {
namespace {

constexpr int kMaxSourceProfileDepth = 5;  // role chains in profiles are short; this stops loops

std::string expand_home(const std::string& path, const Env& env) {
  if (path == "~" || starts_with(path, "~/")) return env.home_dir() + path.substr(1);
  return path;
}

Result<IniFile> load_ini(const std::string& path) {
  if (!file_exists(path)) return IniFile{};
  TP_TRY(std::string text, read_file(path));
  return parse_ini(text, path);
}

bool has_static_keys(const IniSection& s) {
  return s.count("aws_access_key_id") && s.count("aws_secret_access_key");
}

Credentials static_credentials(const IniSection& s, std::string source) {
  Credentials c;
  c.access_key_id = s.at("aws_access_key_id");
  c.secret_access_key = s.at("aws_secret_access_key");
  if (auto it = s.find("aws_session_token"); it != s.end()) c.session_token = it->second;
  c.source = std::move(source);
  return c;
}

std::string value_or(const IniSection& s, const std::string& key, std::string fallback = "") {
  auto it = s.find(key);
  return it == s.end() || it->second.empty() ? fallback : it->second;
}

// Credentials for a profile of the shared files, assuming roles as the profile says.
Result<Credentials> profile_credentials(const ApiContext& ctx, const SharedFiles& files,
                                        const std::string& name, int depth) {
  SharedProfile p = files.profile(name);
  std::string where = "profile " + name;
  if (!p.in_credentials_file && !p.in_config_file) {
    return not_found(where + " is in neither " + files.credentials_path + " nor " + files.config_path);
  }
  const IniSection& v = p.values;
  std::string role_arn = value_or(v, "role_arn");
  if (role_arn.empty()) {
    if (has_static_keys(v)) {
      return static_credentials(
          v, where + " of " +
                 (p.in_credentials_file && has_static_keys(p.credentials_file_values) ? files.credentials_path
                                                                                      : files.config_path));
    }
    return not_found(where + " has no aws_access_key_id/aws_secret_access_key and no role_arn");
  }
  if (depth >= kMaxSourceProfileDepth) {
    return invalid_argument(where + ": source_profile chain is longer than " +
                            std::to_string(kMaxSourceProfileDepth) + " profiles (a loop?)");
  }
  AssumeRoleRequest req;
  req.role_arn = role_arn;
  req.session_name =
      value_or(v, "role_session_name", "teleport-" + std::to_string(to_unix_seconds(ctx.clock.now())));
  req.external_id = value_or(v, "external_id");
  if (auto d = value_or(v, "duration_seconds"); !d.empty()) {
    auto parsed = parse_duration(d);
    if (!parsed.ok()) return parsed.error().wrap(where + ": duration_seconds");
    req.duration = *parsed;
  }
  std::string region = value_or(v, "region", region_from_env(ctx.env));

  std::string source_profile = value_or(v, "source_profile");
  if (!source_profile.empty()) {
    // A profile that names itself as its source uses its own static keys (AWS CLI behaviour).
    bool self = source_profile == name;
    if (self && !has_static_keys(v))
      return invalid_argument(where + ": source_profile is itself but it has no keys");
    Result<Credentials> base = self ? Result<Credentials>(static_credentials(v, where))
                                    : profile_credentials(ctx, files, source_profile, depth + 1);
    if (!base.ok()) {
      Error e = base.error().wrap(where + ": source_profile " + source_profile);
      if (e.code == ErrorCode::kNotFound)
        e.code = ErrorCode::kInvalidArgument;  // configured, so a hard error
      return e;
    }
    auto creds = assume_role(ctx, *base, region, req);
    if (!creds.ok()) return creds.error().wrap(where);
    creds->source = where + " (role " + role_arn + " via " + source_profile + ")";
    return creds;
  }
  if (auto token_file = value_or(v, "web_identity_token_file"); !token_file.empty()) {
    auto token = read_file(expand_home(token_file, ctx.env));
    if (!token.ok()) return token.error().wrap(where + ": web_identity_token_file");
    auto creds =
        assume_role_with_web_identity(ctx, region, {role_arn, req.session_name, trim(*token), req.duration});
    if (!creds.ok()) return creds.error().wrap(where);
    return creds;
  }
  if (v.count("credential_source")) {
    return invalid_argument(where + ": credential_source is not supported; use source_profile instead");
  }
  return invalid_argument(where +
                          " has role_arn but no source_profile: add source_profile = <profile with keys>");
}

class SharedCredentialsFileProvider final : public CredentialsProvider {
 public:
  explicit SharedCredentialsFileProvider(const Env& env) : env_(env) {}

  Result<Credentials> retrieve() override {
    TP_TRY(SharedFiles files, load_shared_files(env_));
    std::string name = profile_name(env_);
    SharedProfile p = files.profile(name);
    if (!files.credentials_exists) return not_found(files.credentials_path + " does not exist");
    if (!p.in_credentials_file) return not_found(files.credentials_path + " has no profile [" + name + "]");
    // A role_arn (in either file) means the profile is an assume-role profile: provider 3's job.
    if (p.values.count("role_arn"))
      return not_found("profile " + name + " has role_arn; see the shared config");
    if (!has_static_keys(p.credentials_file_values)) {
      return not_found("profile [" + name + "] in " + files.credentials_path + " has no aws_access_key_id");
    }
    return static_credentials(p.credentials_file_values, "shared credentials file " + files.credentials_path +
                                                             " (profile " + name + ")");
  }
  std::string name() const override { return "shared credentials file"; }

 private:
  const Env& env_;
};

class SharedConfigProvider final : public CredentialsProvider {
 public:
  explicit SharedConfigProvider(const ApiContext& ctx) : ctx_(ctx) {}

  Result<Credentials> retrieve() override {
    TP_TRY(SharedFiles files, load_shared_files(ctx_.env));
    std::string name = profile_name(ctx_.env);
    SharedProfile p = files.profile(name);
    if (!p.in_credentials_file && !p.in_config_file) {
      if (ctx_.env.get("AWS_PROFILE")) {
        return invalid_argument("AWS_PROFILE=" + name + " but there is no such profile in " +
                                files.credentials_path + " or " + files.config_path);
      }
      return not_found(files.config_path +
                       (files.config_exists ? " has no profile " + name : " does not exist"));
    }
    return profile_credentials(ctx_, files, name, 0);
  }
  std::string name() const override { return "shared config file"; }

 private:
  ApiContext ctx_;
};

}  // namespace

Result<IniFile> parse_ini(std::string_view text, const std::string& path) {
  IniFile out;
  IniSection* section = nullptr;
  bool in_nested = false;  // after "key =" with an empty value, indented lines belong to it
  int line_no = 0;
  for (const auto& raw : split(text, '\n', /*skip_empty=*/false)) {
    ++line_no;
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    bool indented = std::isspace(static_cast<unsigned char>(raw[0]));
    if (line[0] == '[') {
      if (line.back() != ']') return invalid_argument(path + ":" + std::to_string(line_no) + ": missing ']'");
      section = &out[trim(line.substr(1, line.size() - 2))];
      in_nested = false;
      continue;
    }
    if (indented && in_nested) continue;
    if (section == nullptr) {
      return invalid_argument(path + ":" + std::to_string(line_no) + ": setting outside a [section]");
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return invalid_argument(path + ":" + std::to_string(line_no) + ": expected \"key = value\"");
    }
    std::string key = to_lower(trim(line.substr(0, eq)));
    std::string value = trim(line.substr(eq + 1));
    in_nested = value.empty();
    (*section)[key] = value;
  }
  return out;
}

std::string shared_credentials_path(const Env& env) {
  if (auto p = env.get("AWS_SHARED_CREDENTIALS_FILE")) return expand_home(*p, env);
  return env.home_dir() + "/.aws/credentials";
}

std::string shared_config_path(const Env& env) {
  if (auto p = env.get("AWS_CONFIG_FILE")) return expand_home(*p, env);
  return env.home_dir() + "/.aws/config";
}

std::string profile_name(const Env& env) {
  return env.get("AWS_PROFILE").value_or("default");
}

SharedProfile SharedFiles::profile(const std::string& name) const {
  SharedProfile p;
  p.name = name;
  // In the config file the default profile is "[default]" (or "[profile default]").
  for (const std::string& section : name == "default" ? std::vector<std::string>{"profile default", "default"}
                                                      : std::vector<std::string>{"profile " + name}) {
    if (auto it = config.find(section); it != config.end()) {
      p.in_config_file = true;
      for (const auto& [k, v] : it->second) p.values[k] = v;
    }
  }
  if (auto it = credentials.find(name); it != credentials.end()) {
    p.in_credentials_file = true;
    p.credentials_file_values = it->second;
    for (const auto& [k, v] : it->second) p.values[k] = v;
  }
  return p;
}

Result<SharedFiles> load_shared_files(const Env& env) {
  SharedFiles f;
  f.credentials_path = shared_credentials_path(env);
  f.config_path = shared_config_path(env);
  f.credentials_exists = file_exists(f.credentials_path);
  f.config_exists = file_exists(f.config_path);
  TP_TRY(f.credentials, load_ini(f.credentials_path));
  TP_TRY(f.config, load_ini(f.config_path));
  return f;
}

std::string resolve_default_region(const Env& env) {
  if (std::string r = region_from_env(env); !r.empty()) return r;
  auto files = load_shared_files(env);
  if (!files.ok()) return "";
  return value_or(files->profile(profile_name(env)).values, "region");
}

std::unique_ptr<CredentialsProvider> make_shared_credentials_file_provider(const Env& env) {
  return std::make_unique<SharedCredentialsFileProvider>(env);
}

std::unique_ptr<CredentialsProvider> make_shared_config_provider(const ApiContext& ctx) {
  return std::make_unique<SharedConfigProvider>(ctx);
}

}  // namespace tp::aws
