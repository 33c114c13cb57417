// File helpers: whole-file reads and atomic, permission-aware writes.
#pragma once

#include <string>

#include "common/result.h"

namespace tp {

Result<std::string> read_file(const std::string& path);
// Writes to a temp file in the same folder and renames it into place.
Status write_file_atomic(const std::string& path, const std::string& data, unsigned mode = 0600);
Status make_dirs(const std::string& path, unsigned mode = 0700);
bool file_exists(const std::string& path);
// $HOME, or the passwd entry when HOME is unset.
std::string home_dir();

}  // namespace tp
