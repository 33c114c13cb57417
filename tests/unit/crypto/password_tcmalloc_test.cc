// Runs on tcmalloc, as the teleport, tctl and tsh binaries do (tests/unit/crypto/CMakeLists.txt).
#include <gperftools/malloc_extension_c.h>
#include <gtest/gtest.h>

#include "crypto/password.h"

namespace tp {
namespace {

size_t tcmalloc_property(const char* name) {
  size_t value = 0;
  EXPECT_TRUE(MallocExtension_GetNumericProperty(name, &value)) << name << ": is this binary on tcmalloc?";
  return value;
}

TEST(PasswordOnTcmalloc, WorkAreasGoBackToTheSystem) {
  // tcmalloc keeps freed spans in its page heap, resident, until told otherwise; without the release
  // each 19 MiB work area stays there.
  for (int i = 0; i < 2; ++i) {
    auto hash = hash_password("correct horse battery", crypto_rng());
    ASSERT_TRUE(hash.ok()) << hash.error().message;
    ASSERT_TRUE(verify_password("correct horse battery", *hash));
    EXPECT_LT(tcmalloc_property("tcmalloc.pageheap_free_bytes"), size_t{4} << 20) << "after hash " << i;
  }
  EXPECT_GE(tcmalloc_property("tcmalloc.pageheap_unmapped_bytes"), size_t{16} << 20);
}

}  // namespace
}  // namespace tp
