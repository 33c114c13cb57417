#include "common/fast_copies.h"

#include <sys/auxv.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif
#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace tp {
namespace {

constexpr std::string_view kThresholdTunable = "glibc.cpu.x86_rep_movsb_threshold";
constexpr size_t kDefaultL2 = 1024 * 1024;  // Zen 4's per-core L2, when sysconf does not know

bool cpu_is_amd_with_fsrm() {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0 || eax < 7) return false;
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  if (std::string_view(vendor) != "AuthenticAMD") return false;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (edx & (1u << 4)) != 0;
#else
  return false;
#endif
}

CopyEnvironment read_environment() {
  CopyEnvironment env;
  env.amd_with_fsrm = cpu_is_amd_with_fsrm();
#if defined(__GLIBC__)
  if (std::sscanf(gnu_get_libc_version(), "%d.%d", &env.glibc_major, &env.glibc_minor) != 2)
    env.glibc_major = env.glibc_minor = 0;
#endif
  if (const char* t = std::getenv("GLIBC_TUNABLES")) env.tunables = t;
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  env.l2_cache_bytes = l2 > 0 ? static_cast<size_t>(l2) : 0;
  return env;
}

bool affected(const CopyEnvironment& env) {
  return env.amd_with_fsrm && env.glibc_major == 2 && env.glibc_minor < 40;
}

}  // namespace

std::optional<std::string> tunables_for_fast_copies(const CopyEnvironment& env) {
  if (!affected(env)) return std::nullopt;
  if (env.tunables && env.tunables->find(kThresholdTunable) != std::string::npos) return std::nullopt;
  const size_t threshold = env.l2_cache_bytes > 0 ? env.l2_cache_bytes : kDefaultL2;
  std::string entry = std::string(kThresholdTunable) + "=" + std::to_string(threshold);
  if (!env.tunables || env.tunables->empty()) return entry;
  return *env.tunables + ":" + entry;
}

void restart_for_fast_copies(char** argv) {
  if (getauxval(AT_SECURE) != 0) return;  // glibc drops GLIBC_TUNABLES there: it would loop
  const CopyEnvironment env = read_environment();
  const auto tunables = tunables_for_fast_copies(env);
  if (!tunables) return;
  // The binary's own path, not /proc/self/exe: the kernel names the process after the file it
  // executes, and `ps`, `top` and `pkill teleport` go by that name.
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = '\0';
  if (setenv("GLIBC_TUNABLES", tunables->c_str(), 1) != 0) return;
  execv(path, argv);
  // Still here: the binary was replaced or removed since it started. Run as we are, and leave
  // the environment as found.
  if (env.tunables) setenv("GLIBC_TUNABLES", env.tunables->c_str(), 1);
  else unsetenv("GLIBC_TUNABLES");
}

std::string fast_copies_threshold() {
  const CopyEnvironment env = read_environment();
  if (!affected(env)) return {};
  const std::string prefix = std::string(kThresholdTunable) + "=";
  const size_t at = env.tunables ? env.tunables->find(prefix) : std::string::npos;
  if (at == std::string::npos) return "2 KiB (glibc's default: copies may be slow)";
  const size_t begin = at + prefix.size();
  return env.tunables->substr(begin, env.tunables->find(':', begin) - begin);
}

}  // namespace tp
