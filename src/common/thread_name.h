// Thread names, as `top -H`, `ps -L`, perf and /proc/<pid>/task/<tid>/comm show them, so that an
// operator (and bench/) can tell a busy event loop from the Auth Service's workers or the audit
// uploader. The process's main thread keeps the binary's name: `pgrep teleport` and `ps` match it.
#pragma once

#include <string>
#include <string_view>

namespace tp {

// Linux keeps at most 15 characters; a longer name is cut there.
inline constexpr size_t kMaxThreadName = 15;

// Names the calling thread. Best effort: a platform that cannot name threads leaves it unnamed.
void set_thread_name(std::string_view name);

// The calling thread's name ("" if it cannot be read).
std::string current_thread_name();

}  // namespace tp
