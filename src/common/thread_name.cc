#include "common/thread_name.h"

#include <pthread.h>

#include <string>

namespace tp {

void set_thread_name(std::string_view name) {
  const std::string cut(name.substr(0, kMaxThreadName));
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

std::string current_thread_name() {
  char name[kMaxThreadName + 1] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return {};
  return name;
}

}  // namespace tp
