// Mid-sized memory copies at full speed on AMD Zen 3 and later, with the glibc Debian 12 ships.
//
// glibc 2.36 (Debian 12) copies 2 KiB and more with `rep movsb` on CPUs that report FSRM (fast
// short rep movsb). On AMD's, that instruction runs 20 times slower when the destination lies a few
// bytes past the source modulo 4 KiB (glibc bug 30994; on the benchmark machine, 3 GB/s instead of
// 60, where glibc's vector loops run at 50-90). OpenSSL copies every TLS record's plaintext that
// way before encrypting it, and the tunnel copies every data frame: during a large result set, a
// quarter of the proxy's and the agent's CPU was memmove
// (bench/results/2026-11-29-compare-fast-copies.md). glibc 2.40 changed its choice on these CPUs
// for that bug, so only older releases are changed here: copies up to the L2 cache's size use the
// vector loops, set with glibc's own tunable (`glibc.cpu.x86_rep_movsb_threshold`). Tunables are
// read only when a program starts, so the program starts itself again, once, before it does
// anything else.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tp {

// What the decision depends on, read from the machine by restart_for_fast_copies.
struct CopyEnvironment {
  bool amd_with_fsrm = false;    // CPU vendor AMD, CPUID.(EAX=7,ECX=0):EDX[4] (FSRM) set
  int glibc_major = 0;           // gnu_get_libc_version(); 0 when not glibc
  int glibc_minor = 0;
  std::optional<std::string> tunables;  // GLIBC_TUNABLES, if set
  size_t l2_cache_bytes = 0;     // per core; 0 when unknown
};

// The GLIBC_TUNABLES value to run with, or nullopt when nothing needs to change: another CPU, a
// glibc that already avoids the slow case, or a threshold the user chose.
std::optional<std::string> tunables_for_fast_copies(const CopyEnvironment& env);

// When tunables_for_fast_copies asks for a change (and the program is not setuid), executes the
// program's binary again with `argv` and GLIBC_TUNABLES set: same pid, name, open files and
// arguments. Returns when it does not (nothing to change, or the exec failed). Call first thing,
// before any thread starts, only in long-running commands that relay traffic (`teleport start`,
// `tsh proxy db`); child processes inherit the setting.
void restart_for_fast_copies(char** argv);

// For the start-up log, on a machine where the threshold matters: the one this process runs with
// ("1048576", as GLIBC_TUNABLES gives it), or "2 KiB (glibc's default: copies may be slow)".
// Empty elsewhere.
std::string fast_copies_threshold();

}  // namespace tp
