#include "lil/config.hpp"

namespace lil::detail {

void throw_error(const std::string& message) { throw lil::error(message); }

}  // namespace lil::detail
