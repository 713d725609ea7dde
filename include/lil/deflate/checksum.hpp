// lil/deflate/checksum.hpp - the checksums of the gzip and zlib containers.
//
// CRC-32 (RFC 1952; the reflected polynomial 0xEDB88320) is computed eight
// bytes per step with eight lookup tables ("slicing by 8"); Adler-32
// (RFC 1950) defers its modulo reductions to every 5552 bytes, the longest
// run for which the sums cannot overflow 32 bits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lil/config.hpp"

namespace lil::deflate {

// Continue a CRC-32 (start from 0).
LIL_API std::uint32_t crc32(std::uint32_t crc, const void* data, std::size_t size) noexcept;
// Continue an Adler-32 (start from 1).
LIL_API std::uint32_t adler32(std::uint32_t adler, const void* data, std::size_t size) noexcept;

}  // namespace lil::deflate
