# lil::llama_cpp - the optional llama.cpp component (include/lil/adapters/llama_cpp.hpp).
#
# Found, in this order:
#   1. LIL_LLAMA_CPP_DIR (cache path, or the environment variable): a prefix with
#      include/llama.h and lib/libllama*.so, as cmake/provision_llama_cpp.sh makes
#      it (prebuilt libraries from npm; the CPU backends sit in lib/ and are loaded
#      at run time). Its models/ folder (GGUFs) enables the llama tests.
#   2. find_package(llama CONFIG): a llama.cpp the user built and installed
#      (target `llama`; backends from ggml's default search).
# Neither: the component, its tests and its example are skipped, and CMake says so.
option(LIL_WITH_LLAMA_CPP "Build the llama.cpp component when llama.cpp is found" ON)

set(_lil_llama_dir_default "")
if(DEFINED ENV{LIL_LLAMA_CPP_DIR})
  set(_lil_llama_dir_default "$ENV{LIL_LLAMA_CPP_DIR}")
endif()
set(LIL_LLAMA_CPP_DIR "${_lil_llama_dir_default}" CACHE PATH
  "Prefix of a llama.cpp with include/ and lib/ (cmake/provision_llama_cpp.sh prints one)")

set(LIL_HAVE_LLAMA_CPP OFF)
set(LIL_LLAMA_CPP_BACKEND_DIR "")
set(LIL_LLAMA_CPP_MODELS_DIR "")

if(NOT LIL_WITH_LLAMA_CPP)
  message(STATUS "lil: llama.cpp component off (LIL_WITH_LLAMA_CPP=OFF)")
  return()
endif()

if(LIL_LLAMA_CPP_DIR)
  file(GLOB _lil_libllama "${LIL_LLAMA_CPP_DIR}/lib/libllama.so" "${LIL_LLAMA_CPP_DIR}/lib/libllama.v*.so")
  file(GLOB _lil_libggml "${LIL_LLAMA_CPP_DIR}/lib/libggml.so" "${LIL_LLAMA_CPP_DIR}/lib/libggml.v*.so")
  set(_lil_libggml_base "${LIL_LLAMA_CPP_DIR}/lib/libggml-base.so")
  if(EXISTS "${LIL_LLAMA_CPP_DIR}/include/llama.h" AND _lil_libllama AND _lil_libggml AND EXISTS "${_lil_libggml_base}")
    list(GET _lil_libllama 0 _lil_libllama)
    list(GET _lil_libggml 0 _lil_libggml)
    foreach(_t IN ITEMS ggml_base ggml llama)
      add_library(lil_llama_cpp_${_t} SHARED IMPORTED GLOBAL)
    endforeach()
    set_target_properties(lil_llama_cpp_ggml_base PROPERTIES IMPORTED_LOCATION "${_lil_libggml_base}")
    set_target_properties(lil_llama_cpp_ggml PROPERTIES IMPORTED_LOCATION "${_lil_libggml}"
      INTERFACE_LINK_LIBRARIES lil_llama_cpp_ggml_base)
    set_target_properties(lil_llama_cpp_llama PROPERTIES IMPORTED_LOCATION "${_lil_libllama}"
      INTERFACE_INCLUDE_DIRECTORIES "${LIL_LLAMA_CPP_DIR}/include"
      INTERFACE_LINK_LIBRARIES "lil_llama_cpp_ggml;lil_llama_cpp_ggml_base")
    set(_lil_llama_target lil_llama_cpp_llama)
    set(LIL_LLAMA_CPP_BACKEND_DIR "${LIL_LLAMA_CPP_DIR}/lib")
    if(EXISTS "${LIL_LLAMA_CPP_DIR}/models/reasoner.gguf")
      set(LIL_LLAMA_CPP_MODELS_DIR "${LIL_LLAMA_CPP_DIR}/models")
    endif()
    set(LIL_HAVE_LLAMA_CPP ON)
    message(STATUS "lil: llama.cpp found at ${LIL_LLAMA_CPP_DIR} (${_lil_libllama}): building lil::llama_cpp")
  else()
    message(STATUS "lil: LIL_LLAMA_CPP_DIR=${LIL_LLAMA_CPP_DIR} has no include/llama.h, lib/libllama*.so, "
                   "lib/libggml*.so and lib/libggml-base.so: llama.cpp component skipped "
                   "(run cmake/provision_llama_cpp.sh)")
  endif()
else()
  find_package(llama CONFIG QUIET)
  if(TARGET llama)
    set(_lil_llama_target llama)
    set(LIL_HAVE_LLAMA_CPP ON)
    message(STATUS "lil: llama.cpp found by find_package(llama) (${llama_DIR}): building lil::llama_cpp")
  else()
    message(STATUS "lil: llama.cpp not found (set LIL_LLAMA_CPP_DIR to the prefix cmake/provision_llama_cpp.sh "
                   "prints, or install llama.cpp for find_package(llama)): llama.cpp component, its tests and "
                   "example skipped")
  endif()
endif()

if(LIL_HAVE_LLAMA_CPP)
  add_library(lil_llama_cpp INTERFACE)
  add_library(lil::llama_cpp ALIAS lil_llama_cpp)
  target_link_libraries(lil_llama_cpp INTERFACE lil::lil ${_lil_llama_target})
  if(LIL_LLAMA_CPP_MODELS_DIR)
    message(STATUS "lil: llama.cpp GGUFs at ${LIL_LLAMA_CPP_MODELS_DIR}: llama tests registered")
  else()
    message(STATUS "lil: no reasoner.gguf under LIL_LLAMA_CPP_DIR/models: llama tests not registered")
  endif()
endif()
