// lil/config.hpp - version, export macro, the error type, and argument checks.
//
// Every public header includes this one. It stays C++17 and free of third-party
// types so that any engine can include lil's headers with its own build flags.
#pragma once

#include <stdexcept>
#include <string>

#define LIL_VERSION_MAJOR 0
#define LIL_VERSION_MINOR 1
#define LIL_VERSION_PATCH 0
// The one place the version is written: CMake reads the three lines above.
#define LIL_VERSION_STRINGIFY_(x) #x
#define LIL_VERSION_STRINGIFY(x) LIL_VERSION_STRINGIFY_(x)
#define LIL_VERSION_STRING                   \
  LIL_VERSION_STRINGIFY(LIL_VERSION_MAJOR) "." \
  LIL_VERSION_STRINGIFY(LIL_VERSION_MINOR) "." LIL_VERSION_STRINGIFY(LIL_VERSION_PATCH)

#if defined(LIL_SHARED)
#  if defined(_WIN32)
#    if defined(LIL_BUILDING)
#      define LIL_API __declspec(dllexport)
#    else
#      define LIL_API __declspec(dllimport)
#    endif
#  else
#    define LIL_API __attribute__((visibility("default")))
#  endif
#else
#  define LIL_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define LIL_LIKELY(x) __builtin_expect(!!(x), 1)
#  define LIL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define LIL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#  define LIL_LIKELY(x) (x)
#  define LIL_UNLIKELY(x) (x)
#  define LIL_ALWAYS_INLINE inline
#endif

namespace lil {

// Thrown for bad configuration or bad input, always at construction or at an
// API boundary, never from a noexcept hot-path verb. The message names the
// field (or flag, or record) and the offending value.
class LIL_API error : public std::runtime_error {
 public:
  explicit error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
// Out of line so that the throwing path does not bloat inlined callers.
[[noreturn]] LIL_API void throw_error(const std::string& message);
}  // namespace detail

}  // namespace lil
