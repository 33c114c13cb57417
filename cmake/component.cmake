# tp_component(NAME SOURCES ... DEPS ...): one static library per folder under src/.
# -Wrestrict and -Wstringop-overflow: GCC 12 false positives in libstdc++ string code (GCC PR 105651).
set(TP_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-restrict -Wno-stringop-overflow)
function(tp_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(tp_${name} STATIC ${ARG_SOURCES})
  target_include_directories(tp_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(tp_${name} PRIVATE ${TP_WARNINGS})
  target_link_libraries(tp_${name} PUBLIC ${ARG_DEPS})
endfunction()

# tp_unit_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with ctest (label "unit").
function(tp_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${TP_WARNINGS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE TP_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  gtest_discover_tests(${name} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
  set_property(GLOBAL APPEND PROPERTY TP_UNIT_TEST_TARGETS ${name})
endfunction()
