// lil/lil.hpp - everything lil offers C++ users, in one include.
//
//   lil::deflate  gzip-faithful streaming DEFLATE with exact size reports
//   lil::guardian the early-stop decision for decode loops (and lil::guardian_batch)
//   lil::kv       sparse-attention KV-cache policies around any attention step
//
// Engines that want one part only can include its header directly; C users
// include lil/lil.h instead.
#pragma once

#include "lil/config.hpp"
#include "lil/deflate/compressor.hpp"
#include "lil/guardian/batch.hpp"
#include "lil/guardian/either.hpp"
#include "lil/guardian/guardian.hpp"
#include "lil/guardian/plateau.hpp"
#include "lil/guardian/repetition.hpp"
#include "lil/kv/cache.hpp"
#include "lil/kv/factory.hpp"
#include "lil/kv/reference_attention.hpp"
#include "lil/kv/wrap.hpp"
