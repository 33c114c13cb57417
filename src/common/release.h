// Frees what a value holds, for a long-lived coroutine frame that no longer needs it.
#pragma once

#include <utility>

namespace tp {

// Leaves `value` as a fresh T and frees what it held. `value = T()` alone would not free a
// std::string's buffer: a string assigned a short string keeps its capacity. Moving out first hands
// every buffer to a temporary that is destroyed here.
template <class T>
void release(T& value) {
  T gone = std::move(value);
  value = T();
}

}  // namespace tp
