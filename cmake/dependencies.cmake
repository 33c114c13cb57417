# Every third-party dependency, in one place. All come from Debian 12 packages
# (see .ci/run for the package names).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED)             # libboost1.81-dev: Asio, Beast (header-only)
find_package(OpenSSL 3 REQUIRED)              # libssl-dev
find_package(yaml-cpp REQUIRED)               # libyaml-cpp-dev
find_package(nlohmann_json 3 REQUIRED)        # nlohmann-json3-dev
find_package(CLI11 REQUIRED)                  # libcli11-dev
find_package(spdlog REQUIRED)                 # libspdlog-dev (brings libfmt-dev)
find_package(SQLite3 REQUIRED)                # libsqlite3-dev
find_package(PkgConfig REQUIRED)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)  # libargon2-dev
if(TP_TCMALLOC)
  find_library(TCMALLOC_MINIMAL_LIBRARY tcmalloc_minimal)  # libgoogle-perftools-dev
  if(NOT TCMALLOC_MINIMAL_LIBRARY)
    message(FATAL_ERROR "tcmalloc_minimal not found: install libgoogle-perftools-dev (scripts/install-deps "
                        "does), or configure with -DTP_TCMALLOC=OFF to build on glibc's malloc")
  endif()
endif()
if(TP_BUILD_TESTS)
  find_package(GTest REQUIRED)                # libgtest-dev, libgmock-dev
endif()
