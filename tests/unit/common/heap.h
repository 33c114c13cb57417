// How much of the C heap is in use, for tests that bound what an idle connection or relay holds.
#pragma once

#include <malloc.h>

namespace tp::testing {

// Bytes glibc's heap hands out right now (all arenas, and chunks it mapped on their own). ASan's
// allocator does not keep this count: such tests skip under it.
inline long heap_in_use() {
  struct mallinfo2 m = mallinfo2();
  return static_cast<long>(m.uordblks + m.hblkhd);
}

}  // namespace tp::testing
