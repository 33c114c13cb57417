#include "common/fast_copies.h"

#include <gtest/gtest.h>

namespace tp {
namespace {

CopyEnvironment zen4_with_glibc_2_36() {
  return {.amd_with_fsrm = true, .glibc_major = 2, .glibc_minor = 36, .tunables = std::nullopt,
          .l2_cache_bytes = 1048576};
}

TEST(FastCopiesTest, AnAmdCpuWithFsrmAndAnOlderGlibcRaisesTheThresholdToTheL2Size) {
  EXPECT_EQ(tunables_for_fast_copies(zen4_with_glibc_2_36()), "glibc.cpu.x86_rep_movsb_threshold=1048576");
  auto env = zen4_with_glibc_2_36();
  env.l2_cache_bytes = 0;  // unknown: Zen 4's 1 MiB
  EXPECT_EQ(tunables_for_fast_copies(env), "glibc.cpu.x86_rep_movsb_threshold=1048576");
  env.l2_cache_bytes = 524288;
  EXPECT_EQ(tunables_for_fast_copies(env), "glibc.cpu.x86_rep_movsb_threshold=524288");
}

TEST(FastCopiesTest, TheUsersOtherTunablesAreKept) {
  auto env = zen4_with_glibc_2_36();
  env.tunables = "glibc.malloc.arena_max=2";
  EXPECT_EQ(tunables_for_fast_copies(env), "glibc.malloc.arena_max=2:glibc.cpu.x86_rep_movsb_threshold=1048576");
  env.tunables = "";
  EXPECT_EQ(tunables_for_fast_copies(env), "glibc.cpu.x86_rep_movsb_threshold=1048576");
}

TEST(FastCopiesTest, NothingChangesWhereTheCopiesAreFastAlreadyOrTheUserChose) {
  auto other_cpu = zen4_with_glibc_2_36();
  other_cpu.amd_with_fsrm = false;  // Intel, or an AMD CPU glibc does not use rep movsb on
  EXPECT_EQ(tunables_for_fast_copies(other_cpu), std::nullopt);

  auto new_glibc = zen4_with_glibc_2_36();
  new_glibc.glibc_minor = 40;
  EXPECT_EQ(tunables_for_fast_copies(new_glibc), std::nullopt);
  new_glibc.glibc_major = 3;
  new_glibc.glibc_minor = 0;
  EXPECT_EQ(tunables_for_fast_copies(new_glibc), std::nullopt);

  auto not_glibc = zen4_with_glibc_2_36();
  not_glibc.glibc_major = not_glibc.glibc_minor = 0;
  EXPECT_EQ(tunables_for_fast_copies(not_glibc), std::nullopt);

  // The user's own threshold, and the value a restarted process finds: it never restarts twice.
  auto chosen = zen4_with_glibc_2_36();
  chosen.tunables = "glibc.cpu.x86_rep_movsb_threshold=4096";
  EXPECT_EQ(tunables_for_fast_copies(chosen), std::nullopt);
  chosen.tunables = tunables_for_fast_copies(zen4_with_glibc_2_36());
  EXPECT_EQ(tunables_for_fast_copies(chosen), std::nullopt);
}

}  // namespace
}  // namespace tp
