// The AWS shared files: ~/.aws/credentials ("[NAME]" sections) and ~/.aws/config
// ("[profile NAME]" sections, "[default]"), as the AWS CLI and SDKs read them.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "aws/env.h"
#include "common/result.h"

namespace tp::aws {

using IniSection = std::map<std::string, std::string>;
// Section name as written between the brackets, trimmed: "default", "profile prod".
using IniFile = std::map<std::string, IniSection>;

// "key = value" lines under "[section]"; '#' and ';' start comment lines; indented lines under a
// key (nested settings such as "s3 =") are ignored. `path` is for messages.
Result<IniFile> parse_ini(std::string_view text, const std::string& path);

std::string shared_credentials_path(const Env& env);  // AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials
std::string shared_config_path(const Env& env);       // AWS_CONFIG_FILE or ~/.aws/config
std::string profile_name(const Env& env);             // AWS_PROFILE or "default"

// The profile's settings: the config file's section overlaid with the credentials file's.
struct SharedProfile {
  std::string name;
  bool in_credentials_file = false;
  bool in_config_file = false;
  IniSection credentials_file_values;
  IniSection values;  // merged
};

// Loads both files (a missing file is empty; an unreadable or malformed one is an error).
struct SharedFiles {
  std::string credentials_path;
  std::string config_path;
  bool credentials_exists = false;
  bool config_exists = false;
  IniFile credentials;
  IniFile config;
  SharedProfile profile(const std::string& name) const;
};
Result<SharedFiles> load_shared_files(const Env& env);

// AWS_REGION, AWS_DEFAULT_REGION, then the profile's "region" in the config file; "" if none.
std::string resolve_default_region(const Env& env);

}  // namespace tp::aws
