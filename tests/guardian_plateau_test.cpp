// The plateau detector on hand-made information curves: the paper's rule and
// each extension, decided from the sizes alone.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "lil/guardian/plateau.hpp"

namespace {

using lil::check_point;
using lil::plateau_detector;
using lil::plateau_options;
using lil::reason;
using lil::verdict;

// Feeds C(f), C(2f), ... and returns the n of the first stop (0: none).
std::uint64_t first_stop(plateau_detector& d, const std::vector<std::uint64_t>& sizes) {
  const std::uint64_t f = d.interval();
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    check_point p;
    p.tokens = f * (i + 1);
    p.bytes = 4 * p.tokens;
    p.size = sizes[i];
    if (d.observe(p).action == verdict::stop) return p.tokens;
  }
  return 0;
}

plateau_options paper(std::uint32_t f = 250, double t = 20) {
  plateau_options o;
  o.check_every = f;
  o.min_gain = t;
  return o;
}

TEST(plateau, defaults_are_the_papers_rule) {
  plateau_options o;
  EXPECT_EQ(o.check_every, 250u);
  EXPECT_EQ(o.min_gain, 20.0);
  EXPECT_EQ(o.patience, 1u);
  EXPECT_EQ(o.warmup_tokens, 0u);
  EXPECT_EQ(o.relative_gain, 0.0);
}

TEST(plateau, stops_at_first_check_whose_gain_is_below_t) {
  plateau_detector d(paper());
  // gains: -, 100, 50, 19 (< 20) -> stop at the fourth check, n = 1000.
  EXPECT_EQ(first_stop(d, {300, 400, 450, 469, 470}), 1000u);
}

TEST(plateau, gain_equal_to_t_is_not_low) {
  plateau_detector d(paper());
  EXPECT_EQ(first_stop(d, {300, 320, 340, 360}), 0u);
  plateau_detector e(paper());
  EXPECT_EQ(first_stop(e, {300, 320, 339}), 750u);
}

TEST(plateau, first_check_never_stops_even_when_tiny) {
  plateau_detector d(paper(250, 1e9));
  check_point p{250, 1000, 5};
  auto r = d.observe(p);
  EXPECT_EQ(r.action, verdict::go);
  EXPECT_EQ(r.why, reason::first_check);
  EXPECT_EQ(r.gain, 5);
  // With an unreachable threshold, the second check (n = 2f) stops.
  r = d.observe(check_point{500, 2000, 900});
  EXPECT_EQ(r.action, verdict::stop);
  EXPECT_EQ(r.why, reason::plateau);
}

TEST(plateau, result_carries_the_figures_of_the_check) {
  plateau_detector d(paper(100, 20));
  d.observe(check_point{100, 400, 250});
  const auto r = d.observe(check_point{200, 800, 260});
  EXPECT_EQ(r.point.tokens, 200u);
  EXPECT_EQ(r.point.bytes, 800u);
  EXPECT_EQ(r.point.size, 260u);
  EXPECT_EQ(r.gain, 10);
  EXPECT_EQ(r.threshold, 20.0);
  EXPECT_EQ(r.low_gain_streak, 1u);
  EXPECT_DOUBLE_EQ(r.point.ratio(), 260.0 / 800.0);
}

TEST(plateau, a_shrinking_size_is_a_negative_gain_and_low) {
  plateau_detector d(paper(10, 0));
  d.observe(check_point{10, 40, 100});
  const auto r = d.observe(check_point{20, 80, 98});
  EXPECT_EQ(r.gain, -2);
  EXPECT_EQ(r.action, verdict::stop);
}

TEST(plateau, patience_needs_k_consecutive_low_gain_checks) {
  auto o = paper();
  o.patience = 3;
  plateau_detector d(o);
  // gains: -, 5, 5, 100 (streak broken), 5, 5, 5 -> stop at the 7th check.
  EXPECT_EQ(first_stop(d, {300, 305, 310, 410, 415, 420, 425}), 7u * 250u);
  plateau_detector again(o);
  EXPECT_EQ(first_stop(again, {300, 305, 310, 410, 415, 420}), 0u);
}

TEST(plateau, patience_reason_is_reported_while_waiting) {
  auto o = paper();
  o.patience = 2;
  plateau_detector d(o);
  d.observe(check_point{250, 1000, 300});
  const auto r = d.observe(check_point{500, 2000, 301});
  EXPECT_EQ(r.action, verdict::go);
  EXPECT_EQ(r.why, reason::awaiting_patience);
  EXPECT_EQ(r.low_gain_streak, 1u);
}

TEST(plateau, warmup_defers_the_stop_until_enough_tokens) {
  auto o = paper();
  o.warmup_tokens = 1100;
  plateau_detector d(o);
  // Low gain from the 2nd check on; first check with n >= 1100 is n = 1250.
  std::vector<std::uint64_t> sizes = {300, 301, 302, 303, 304, 305};
  EXPECT_EQ(first_stop(d, sizes), 1250u);
  plateau_detector w(o);
  w.observe(check_point{250, 1, 300});
  EXPECT_EQ(w.observe(check_point{500, 2, 301}).why, reason::warming_up);
}

TEST(plateau, warmup_and_patience_combine) {
  auto o = paper();
  o.warmup_tokens = 750;
  o.patience = 4;
  plateau_detector d(o);
  // Streak reaches 4 at the 5th check (n = 1250 >= 750).
  EXPECT_EQ(first_stop(d, {300, 301, 302, 303, 304, 305}), 1250u);
}

TEST(plateau, relative_threshold_scales_with_the_early_slope) {
  auto o = paper(100, 0);
  o.relative_gain = 0.25;
  o.relative_checks = 3;
  plateau_detector d(o);
  // Reference slope = (C(300) - C(100)) / 2 = (1000 - 200) / 2 = 400 -> threshold 100 after check 3.
  // gains after: 150 (ok), 99 (< 100: stop at n = 500).
  EXPECT_EQ(first_stop(d, {200, 600, 1000, 1150, 1249}), 500u);
  plateau_detector e(o);
  EXPECT_EQ(first_stop(e, {200, 600, 1000, 1150, 1250}), 0u);
}

TEST(plateau, relative_threshold_does_not_apply_while_it_is_measured) {
  auto o = paper(100, 0);
  o.relative_gain = 0.9;
  o.relative_checks = 4;
  plateau_detector d(o);
  // Gains 1 at checks 2..4 are under any positive relative threshold, but the
  // reference is not known until check 4 and applies after it; t = 0 keeps going.
  EXPECT_EQ(first_stop(d, {1000, 1001, 1002, 1003}), 0u);
  // Reference (1003 - 1000) / 3 = 1 -> threshold 0.9; a gain of 0 is below it.
  const auto r = d.observe(check_point{500, 0, 1003});
  EXPECT_DOUBLE_EQ(r.threshold, 0.9);
  EXPECT_EQ(r.action, verdict::stop);
}

TEST(plateau, relative_threshold_never_lowers_t) {
  auto o = paper(100, 20);
  o.relative_gain = 0.01;
  o.relative_checks = 2;
  plateau_detector d(o);
  d.observe(check_point{100, 0, 100});
  d.observe(check_point{200, 0, 200});  // reference 100 -> relative threshold 1
  const auto r = d.observe(check_point{300, 0, 219});
  EXPECT_EQ(r.threshold, 20.0);
  EXPECT_EQ(r.action, verdict::stop);
}

TEST(plateau, reset_forgets_everything) {
  plateau_detector d(paper());
  d.observe(check_point{250, 0, 300});
  d.observe(check_point{500, 0, 305});
  d.reset();
  plateau_detector fresh(paper());
  std::vector<std::uint64_t> sizes = {100, 200, 210, 400, 401};
  EXPECT_EQ(first_stop(d, sizes), first_stop(fresh, sizes));
  EXPECT_EQ(d.observe(check_point{1500, 0, 500}).gain, fresh.observe(check_point{1500, 0, 500}).gain);
}

TEST(plateau, copy_forks_the_state) {
  plateau_detector d(paper());
  d.observe(check_point{250, 0, 300});
  plateau_detector fork = d;
  EXPECT_EQ(d.observe(check_point{500, 0, 305}).action, verdict::stop);
  EXPECT_EQ(fork.observe(check_point{500, 0, 400}).action, verdict::go);
}

TEST(plateau, bad_options_name_the_field) {
  auto expect_error = [](plateau_options o, const std::string& field) {
    try {
      plateau_detector d(o);
      FAIL() << "no error for " << field;
    } catch (const lil::error& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  auto o = paper();
  o.check_every = 0;
  expect_error(o, "check_every");
  o = paper(250, -1);
  expect_error(o, "min_gain");
  o = paper(250, std::numeric_limits<double>::quiet_NaN());
  expect_error(o, "min_gain");
  o = paper();
  o.patience = 0;
  expect_error(o, "patience");
  o = paper();
  o.relative_gain = -0.5;
  expect_error(o, "relative_gain");
  o = paper();
  o.relative_checks = 1;
  expect_error(o, "relative_checks");
}

TEST(information_curve, keeps_points_up_to_capacity_and_counts_the_rest) {
  lil::information_curve c(2);
  c.record(check_point{1, 10, 5});
  c.record(check_point{2, 20, 8});
  c.record(check_point{3, 30, 9});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.dropped(), 1u);
  EXPECT_EQ(c[1].size, 8u);
  EXPECT_DOUBLE_EQ(c[1].ratio(), 0.4);
  lil::information_curve copy = c;
  copy.clear();
  EXPECT_EQ(copy.capacity(), 2u);
  EXPECT_EQ(c.size(), 2u);
}

TEST(information_curve, empty_curve_has_no_points) {
  lil::information_curve c;
  c.record(check_point{1, 1, 1});
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(c.dropped(), 1u);
}

}  // namespace
