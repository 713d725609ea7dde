include_guard(GLOBAL)
include(GNUInstallDirs)

# Warnings are PRIVATE to lil's own targets: an engine that links lil::lil must
# not inherit our warning policy. -Werror is for CI's builds only (LIL_WERROR).
function(lil_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(LIL_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()

# A shared lil exports only what LIL_API marks (the public API); everything
# else, the engine's private pieces and every inline function, stays hidden, so
# a consumer can only reach what the headers promise (fmt does the same).
function(lil_hide_symbols target)
  set_target_properties(${target} PROPERTIES
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
endfunction()

# lil_add_gtest(NAME SOURCES src... [LIBS lib...] [LABELS label...] [TIMEOUT s])
# One executable per test file; each GoogleTest case becomes its own ctest
# entry so that a failure names the property that broke.
function(lil_add_gtest name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS;ENVIRONMENT" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE lil::lil GTest::gtest GTest::gtest_main ${ARG_LIBS})
  lil_set_warnings(${name})
  set(props "")
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  if(ARG_ENVIRONMENT)
    list(APPEND props ENVIRONMENT "${ARG_ENVIRONMENT}")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} ${props})
endfunction()
