// Properties of quest.hpp: the page bound, top pages + the current page,
// nothing evicted, GQA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kv_test_util.hpp"

namespace kv = lil::kv;
using kvtest::expect_error;

namespace {
kv::model_shape shape(int heads, int kv_heads, int d, int ctx = 1024) { return kvtest::shape(heads, kv_heads, d, ctx); }
kv::quest_options opts(int budget, int page = 16, kv::reduction fold = kv::reduction::mean,
                       kv::bound_format bounds = kv::bound_format::fp32) {
  kv::quest_options o;
  o.budget = budget;
  o.page_size = page;
  o.gqa = fold;
  o.bounds = bounds;
  return o;
}
double dot(const float* a, const float* b, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}
// sum_d max(q_d M_d, q_d m_d), in double, from the keys themselves (with M
// rounded up and m down to bf16 when asked).
double bound_from_keys(const float* q, const std::vector<kvtest::token>& toks, int kvh, int first, int last, int d,
                       bool bf16 = false) {
  double b = 0;
  for (int j = 0; j < d; ++j) {
    float mx = -INFINITY, mn = INFINITY;
    for (int t = first; t < last; ++t) {
      const float x = toks[static_cast<std::size_t>(t)].k[static_cast<std::size_t>(kvh * d + j)];
      mx = std::max(mx, x);
      mn = std::min(mn, x);
    }
    if (bf16) {
      mx = kv::detail::from_bf16(kv::detail::bf16_rounded(mx, true));
      mn = kv::detail::from_bf16(kv::detail::bf16_rounded(mn, false));
    }
    b += std::max(static_cast<double>(q[j]) * mx, static_cast<double>(q[j]) * mn);
  }
  return b;
}
}  // namespace

TEST(kv_quest, page_bound_is_at_least_the_true_max_dot_of_its_page) {
  for (auto format : {kv::bound_format::fp32, kv::bound_format::bf16})
  for (int d : {8, 13, 64, 128}) {
    const auto s = shape(8, 2, d, 640);
    kv::quest_policy p(s, 0, opts(64, 16, kv::reduction::mean, format));
    // Mixed scales, so that channels with both signs and outliers occur.
    auto toks = kvtest::random_tokens(s, 640, 31u + static_cast<unsigned>(d), 2.0f);
    for (std::size_t t = 0; t < toks.size(); t += 37)
      for (auto& x : toks[t].k) x *= 20.0f;
    for (int t = 0; t < 640; ++t) p.append(t, toks[static_cast<std::size_t>(t)].k.data());
    const auto queries = kvtest::random_tokens(s, 8, 77, 3.0f);
    for (const auto& qt : queries)
      for (int qh = 0; qh < s.n_heads; ++qh) {
        const float* q = &qt.q[static_cast<std::size_t>(qh * d)];
        const int kvh = s.kv_head_of(qh);
        for (int page = 0; page < 40; ++page) {
          double best = -INFINITY, scale = 0;
          for (int t = page * 16; t < page * 16 + 16; ++t) {
            const float* k = &toks[static_cast<std::size_t>(t)].k[static_cast<std::size_t>(kvh * d)];
            best = std::max(best, dot(q, k, d));
            for (int j = 0; j < d; ++j) scale += std::fabs(q[j] * k[j]);
          }
          // Float rounding of a d-term sum is the only slack allowed.
          EXPECT_GE(static_cast<double>(p.upper_bound(q, kvh, page)), best - 1e-6 * scale) << "d " << d << " page " << page;
        }
      }
  }
}

TEST(kv_quest, bound_of_a_one_token_page_is_its_dot_product) {
  const auto s = shape(4, 4, 32, 64);
  kv::quest_policy p(s, 0, opts(1, 1));
  const auto toks = kvtest::random_tokens(s, 10, 5);
  for (int t = 0; t < 10; ++t) p.append(t, toks[static_cast<std::size_t>(t)].k.data());
  for (int h = 0; h < 4; ++h)
    for (int page = 0; page < 10; ++page) {
      const float* q = &toks[0].q[static_cast<std::size_t>(h * 32)];
      const float* k = &toks[static_cast<std::size_t>(page)].k[static_cast<std::size_t>(h * 32)];
      EXPECT_NEAR(p.upper_bound(q, h, page), dot(q, k, 32), 1e-4);
    }
}

TEST(kv_quest, selects_the_top_bound_pages_plus_the_current_page_for_every_fold_and_format) {
  for (auto format : {kv::bound_format::fp32, kv::bound_format::bf16})
  for (auto fold : {kv::reduction::mean, kv::reduction::sum, kv::reduction::max}) {
    const bool bf16 = format == kv::bound_format::bf16;
    const auto s = shape(8, 2, 16);
    kv::quest_policy p(s, 0, opts(128, 16, fold, format));  // 8 pages: 7 by bound + the current one
    const auto toks = kvtest::random_tokens(s, 1000, 41, 2.0f);
    for (int t = 0; t < 1000; ++t) {
      p.append(t, toks[static_cast<std::size_t>(t)].k.data());
      const float* qall = toks[static_cast<std::size_t>(t)].q.data();
      const auto sel = p.select(qall);
      const int n = t + 1, n_pages = (n + 15) / 16, current = n_pages - 1;
      for (int kvh = 0; kvh < 2; ++kvh) {
        const auto span = sel.head(kvh);
        ASSERT_LE(span.size, 128);
        std::vector<int> pages;
        for (std::int32_t i = 0; i < span.size; ++i) {
          if (i > 0) {
            ASSERT_LT(span[i - 1], span[i]);  // ascending slots
          }
          if (pages.empty() || pages.back() != span[i] / 16) pages.push_back(span[i] / 16);
        }
        ASSERT_EQ(pages.back(), current) << "the current page is always read";
        if (n_pages <= 8) {
          ASSERT_EQ(span.size, n) << "dense while the context fits";
          continue;
        }
        ASSERT_EQ(pages.size(), 8u);
        // Every chosen page ranks at least as high as every page left out,
        // with the group's per-head bounds folded in double precision.
        auto folded = [&](int page) {
          double acc = fold == kv::reduction::max ? -INFINITY : 0.0;
          for (int qh = kvh * 4; qh < kvh * 4 + 4; ++qh) {
            const double b = bound_from_keys(qall + qh * 16, toks, kvh, page * 16, page * 16 + 16, 16, bf16);
            acc = fold == kv::reduction::max ? std::max(acc, b) : acc + b;
          }
          return fold == kv::reduction::mean ? acc / 4 : acc;
        };
        double weakest_in = INFINITY, strongest_out = -INFINITY;
        for (int page = 0; page < current; ++page) {
          const bool in = std::find(pages.begin(), pages.end(), page) != pages.end();
          if (in) {
            weakest_in = std::min(weakest_in, folded(page));
          } else {
            strongest_out = std::max(strongest_out, folded(page));
          }
        }
        ASSERT_GE(weakest_in, strongest_out - 1e-4) << kv::to_string(fold) << (bf16 ? " bf16" : "") << " token " << t;
      }
    }
  }
}

TEST(kv_quest, nothing_is_evicted_and_reads_never_exceed_the_budget) {
  const auto s = shape(4, 2, 8, 600);
  kv::policy_spec spec(opts(48));
  spec.skip_first_layers = 0;
  kv::layer_cache cache(spec, s, 0);
  ASSERT_STREQ(cache.policy().name(), "quest");
  const auto toks = kvtest::random_tokens(s, 600, 8);
  for (int t = 0; t < 600; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    EXPECT_EQ(cache.policy().size(0), t + 1);
    for (int kvh = 0; kvh < 2; ++kvh) EXPECT_LE(cache.policy().last_selection().head(kvh).size, 48);
  }
}

TEST(kv_quest, gqa_max_fold_reads_the_page_any_query_head_of_the_group_needs) {
  for (auto heads : {std::pair<int, int>{32, 8}, std::pair<int, int>{8, 1}}) {
    const int d = 16, g = heads.first / heads.second;
    const auto s = shape(heads.first, heads.second, d);
    kv::quest_policy p(s, 0, opts(32, 16, kv::reduction::max));  // one page by bound + the current page
    auto toks = kvtest::random_tokens(s, 320, 17, 0.01f);
    for (auto& tk : toks)
      for (auto& x : tk.k) x *= 0.01f;
    // KV head h hides a strong key in page 2 + h along channel h % d.
    for (int h = 0; h < heads.second; ++h) toks[static_cast<std::size_t>((2 + h) * 16 + 5)].k[static_cast<std::size_t>(h * d + h % d)] = 10.0f;
    for (int t = 0; t < 320; ++t) p.append(t, toks[static_cast<std::size_t>(t)].k.data());
    // Only the last query head of each group looks for its KV head's key.
    std::vector<float> q(static_cast<std::size_t>(heads.first * d), 0.0f);
    for (int h = 0; h < heads.second; ++h) q[static_cast<std::size_t>((h * g + g - 1) * d + h % d)] = 1.0f;
    const auto sel = p.select(q.data());
    for (int h = 0; h < heads.second; ++h) {
      const auto span = sel.head(h);
      ASSERT_EQ(span.size, 32);
      EXPECT_EQ(span[0], (2 + h) * 16) << heads.first << "/" << heads.second << " kv head " << h;
    }
  }
}

TEST(kv_quest, equals_dense_when_the_budget_covers_the_sequence) {
  const auto s = shape(8, 2, 32, 256);
  const auto toks = kvtest::random_tokens(s, 200, 23);
  kv::layer_cache dense(kv::policy_spec::full(), s, 0);
  auto spec = kv::policy_spec::quest(208);
  spec.skip_first_layers = 0;
  kv::layer_cache quest(spec, s, 0);
  ASSERT_STREQ(quest.policy().name(), "quest");
  EXPECT_EQ(kvtest::run(dense, toks, 0, 200), kvtest::run(quest, toks, 0, 200));
}

TEST(kv_quest, budget_below_the_current_page_is_rejected) {
  expect_error([] { kv::quest_policy p(shape(4, 2, 8), 0, opts(8, 16)); }, {"quest", "budget 8", "page_size 16"});
  expect_error([] { kv::quest_policy p(shape(4, 2, 8), 0, opts(64, 0)); }, {"page_size 0"});
}

TEST(kv_quest, bf16_bounds_halve_the_bound_memory) {
  const auto s = shape(8, 2, 64, 4096);
  const kv::quest_policy fp32(s, 0, opts(256)), bf16(s, 0, opts(256, 16, kv::reduction::mean, kv::bound_format::bf16));
  const std::size_t bounds_fp32 = 2u * 2u * 256u * 64u * 4u;  // (max,min) x kv heads x pages x dim x bytes
  EXPECT_EQ(fp32.memory().policy_bytes - bf16.memory().policy_bytes, bounds_fp32 / 2);
}

TEST(kv_quest, bf16_rounding_is_outward) {
  for (float x : {1.0f, 1.00001f, -1.00001f, 3.14159f, -2.71828f, 1e-30f, -1e30f, 0.0f}) {
    EXPECT_GE(kv::detail::from_bf16(kv::detail::bf16_rounded(x, true)), x);
    EXPECT_LE(kv::detail::from_bf16(kv::detail::bf16_rounded(x, false)), x);
  }
  EXPECT_EQ(kv::detail::from_bf16(kv::detail::bf16_rounded(1.0f, true)), 1.0f);
}
