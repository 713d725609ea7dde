// TEMPORARY bootstrap so the tree builds while the engine is being written.
#include "lil/deflate/compressor.hpp"

namespace lil::deflate {
namespace detail { struct engine {}; }
compressor::compressor(const options& o) : opts_(o) { lil::detail::throw_error("deflate engine not yet implemented"); }
compressor::compressor(const compressor& o) : opts_(o.opts_) {}
compressor& compressor::operator=(const compressor&) { return *this; }
compressor::compressor(compressor&&) noexcept = default;
compressor& compressor::operator=(compressor&&) noexcept = default;
compressor::~compressor() = default;
void compressor::feed(const void*, std::size_t) {}
std::uint64_t compressor::size_if_finished() noexcept { return 0; }
void compressor::finish() {}
bool compressor::finished() const noexcept { return false; }
std::uint64_t compressor::bytes_in() const noexcept { return 0; }
void compressor::reset() noexcept {}
encoder::encoder(const options& o, container b) : deflater_(o), box_(b), check_(0) {}
void encoder::feed(const void*, std::size_t) {}
void encoder::finish() {}
std::vector<unsigned char> encoder::take_output() { return {}; }
}  // namespace lil::deflate
