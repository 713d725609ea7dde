include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(LIL_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/lil")
set(lil_install_targets lil)
if(LIL_HAS_C_API)
  list(APPEND lil_install_targets lil_c)
endif()

install(TARGETS ${lil_install_targets}
  EXPORT lil-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/lil DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT lil-targets NAMESPACE lil:: DESTINATION ${LIL_CMAKE_DIR})

# lil::sentencepiece, where it was built, as the package's optional component
# `sentencepiece` (find_package(lil COMPONENTS sentencepiece)): its own export
# set, so that a lil built without it installs a complete package all the same.
if(TARGET lil_sentencepiece)
  install(TARGETS lil_sentencepiece
    EXPORT lil-sentencepiece-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT lil-sentencepiece-targets NAMESPACE lil:: DESTINATION ${LIL_CMAKE_DIR})
endif()
# The config file needs to know whether lil::sentencepiece links libsentencepiece
# itself (shared) or leaves it to the consumer (static).
if(BUILD_SHARED_LIBS)
  set(LIL_SHARED_BUILD TRUE)
else()
  set(LIL_SHARED_BUILD FALSE)
endif()

configure_package_config_file(cmake/lil-config.cmake.in
  "${PROJECT_BINARY_DIR}/lil-config.cmake"
  INSTALL_DESTINATION ${LIL_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/lil-config-version.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/lil-config.cmake"
              "${PROJECT_BINARY_DIR}/lil-config-version.cmake"
        DESTINATION ${LIL_CMAKE_DIR})

# pkg-config: relative paths from ${prefix} keep the file relocatable.
set(LIL_PC_LIBS "-llil")
if(LIL_HAS_C_API)
  set(LIL_PC_LIBS "-llil_c -llil")
endif()
# Relative to the .pc file itself, so that the install can be moved.
file(RELATIVE_PATH LIL_PC_TO_PREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" LIL_PC_TO_PREFIX "${LIL_PC_TO_PREFIX}")
configure_file(cmake/lil.pc.in "${PROJECT_BINARY_DIR}/lil.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/lil.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(TARGET lil_cli)
  install(TARGETS lil_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
