// The behaviour every Backend implementation must show (src/backend/backend.h).
// backend_contract.cc holds the tests; an implementation joins by
// instantiating BackendContractTest with a factory for its harness, as
// sqlite_backend_test.cc does:
//
//   INSTANTIATE_TEST_SUITE_P(Postgres, BackendContractTest,
//                            ::testing::Values(BackendFactory{"postgres", make_pg}), backend_factory_name);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "common/clock.h"

namespace tp::testing {

// One store under test, fresh and empty when made. open() may be called again
// after the previous Backend was destroyed; a persistent store then shows the
// same data.
class BackendHarness {
 public:
  virtual ~BackendHarness() = default;
  virtual Result<std::unique_ptr<Backend>> open(const Clock& clock) = 0;
  virtual bool persistent() const = 0;
};

struct BackendFactory {
  std::string name;  // becomes the test name suffix: letters, digits and '_' only
  std::function<std::unique_ptr<BackendHarness>()> make;
};

// Test output shows the factory's name rather than its bytes.
inline void PrintTo(const BackendFactory& f, std::ostream* os) { *os << f.name; }

std::string backend_factory_name(const ::testing::TestParamInfo<BackendFactory>& info);

class BackendContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  // Closes the backend and opens the same store again.
  void reopen();

  FakeClock clock_{from_unix_seconds(1'700'000'000)};
  std::unique_ptr<BackendHarness> harness_;
  std::unique_ptr<Backend> backend_;
};

}  // namespace tp::testing
