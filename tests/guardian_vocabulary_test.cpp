// lil::vocabulary and a guardian fed ids through it: the ids price exactly
// the text they decode to (checks that cut a character included), the first
// token's leading space follows the decode rule, and nothing allocates.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lil/guardian/batch.hpp"
#include "lil/guardian/vocabulary.hpp"
#include "support/allocation_counter.hpp"

namespace {

using lil::token_id;
using lil::verdict;
using namespace std::string_literals;

lil::guardian_options every(std::uint32_t f) {
  lil::guardian_options o;
  o.rule.check_every = f;
  o.rule.min_gain = 0;
  o.curve_capacity = 4096;
  return o;
}

// The from-scratch oracle: C(n) of the decoded text of the first n ids, an
// unfinished character written as the decoder writes it.
std::string decoded(const lil::vocabulary& v, const std::vector<token_id>& ids, std::size_t n, bool strip) {
  std::string text;
  for (std::size_t i = 0; i < n; ++i) {
    const auto b = i == 0 && strip ? v.first_bytes(ids[i]) : v.bytes(ids[i]);
    text.append(b.data(), b.size());
  }
  const std::size_t tail = lil::detail::unfinished_utf8_tail(text);
  text.resize(text.size() - tail);
  const std::size_t marks = v.unfinished() == lil::unfinished_character::per_byte ? tail : (tail ? 1 : 0);
  for (std::size_t k = 0; k < marks; ++k) text += "\xEF\xBF\xBD";
  return text;
}
std::uint64_t deflated(const std::string& text) {
  lil::deflate::options o;
  o.keep_output = false;
  return lil::deflate::deflate_size(text.data(), text.size(), o);
}

// Pieces that cut characters: each multibyte character is also spelled byte
// by byte, as byte fallback and byte-level BPE do.
std::vector<std::string> split_pieces() {
  std::vector<std::string> p = {" the", " a", "ing", " cat", "\n", " ", "é", "日本", "語", "s", "."};
  for (const char* ch : {"é", "日", "本", "語", "🙂"})
    for (const char* c = ch; *c; ++c) p.push_back(std::string(1, *c));
  return p;
}

// Ids whose text is valid UTF-8 once complete, but whose cuts often fall
// inside a character.
std::vector<token_id> random_ids(const std::vector<std::string>& pieces, std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<token_id> ids;
  while (ids.size() < n) {
    const auto id = static_cast<token_id>(rng() % pieces.size());
    const auto lead = static_cast<unsigned char>(pieces[static_cast<std::size_t>(id)][0]);
    if (pieces[static_cast<std::size_t>(id)].size() == 1 && lead >= 0x80) {
      if ((lead & 0xC0) == 0x80) continue;  // a continuation byte only after its lead
      const std::size_t len = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 4;
      for (std::size_t k = 0; k < len; ++k) ids.push_back(id + static_cast<token_id>(k));
    } else {
      ids.push_back(id);
    }
  }
  return ids;
}

TEST(vocabulary, pieces_give_their_bytes_and_ids_outside_give_none) {
  const lil::vocabulary v(std::vector<std::string>{"a", "", "\xff\0b"s});
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(v.bytes(0), "a");
  EXPECT_EQ(v.bytes(1), "");
  EXPECT_EQ(v.bytes(2), "\xff\0b"s);
  EXPECT_EQ(v.max_bytes(), 3u);
  EXPECT_TRUE(v.bytes(3).empty());
  EXPECT_TRUE(v.bytes(-1).empty());
  EXPECT_FALSE(v.contains(3));
  const lil::vocabulary by_callback(2, [](token_id id) { return id == 0 ? std::string_view("x") : std::string_view("yz"); });
  EXPECT_EQ(by_callback.bytes(1), "yz");
}

TEST(vocabulary, byte_level_pieces_decode_gpt2_alphabet) {
  // "Ġ" is 0x20, "Ċ" 0x0A, "ĉ" 0x09; "Ã©" spells the two bytes of é.
  const auto v = lil::vocabulary::from_byte_level_pieces({"Ġhello", "Ċ", "ĉx", "Ã©", "<|endoftext|>", "<|im_end|>"}, {5});
  EXPECT_EQ(v.bytes(0), " hello");
  EXPECT_EQ(v.bytes(1), "\n");
  EXPECT_EQ(v.bytes(2), "\tx");
  EXPECT_EQ(v.bytes(3), "é");
  EXPECT_EQ(v.bytes(4), "<|endoftext|>");  // an added token: its text
  EXPECT_EQ(v.bytes(5), "");               // named as having no bytes
  EXPECT_EQ(v.unfinished(), lil::unfinished_character::per_character);
  EXPECT_THROW(lil::vocabulary::from_byte_level_pieces({"a"}, {7}), lil::error);
}

TEST(vocabulary, tiktoken_ranks_are_read_and_a_bad_line_is_named) {
  // "IQ==" = "!", "aGVsbG8=" = "hello", "IHdvcmxk" = " world"
  const auto v = lil::vocabulary::from_tiktoken("IQ== 0\naGVsbG8= 1\r\nIHdvcmxk 3\n", {{"<|endoftext|>", 5}});
  EXPECT_EQ(v.size(), 6u);
  EXPECT_EQ(v.bytes(0), "!");
  EXPECT_EQ(v.bytes(1), "hello");
  EXPECT_EQ(v.bytes(2), "");
  EXPECT_EQ(v.bytes(3), " world");
  EXPECT_EQ(v.bytes(5), "<|endoftext|>");
  try {
    (void)lil::vocabulary::from_tiktoken("IQ== 0\nnot-base64! 1\n");
    FAIL() << "a malformed line was accepted";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)lil::vocabulary::from_tiktoken("IQ== 0\nIQ== 0\n"), lil::error);
}

TEST(vocabulary, unfinished_tail_counts_the_bytes_of_a_cut_character) {
  EXPECT_EQ(lil::detail::unfinished_utf8_tail("abc"), 0u);
  EXPECT_EQ(lil::detail::unfinished_utf8_tail("a\xE6"), 1u);
  EXPECT_EQ(lil::detail::unfinished_utf8_tail("a\xE6\x97"), 2u);
  EXPECT_EQ(lil::detail::unfinished_utf8_tail("a\xE6\x97\xA5"), 0u);
  EXPECT_EQ(lil::detail::unfinished_utf8_tail("\xF0\x9F\x99"), 3u);
  EXPECT_EQ(lil::detail::unfinished_utf8_tail("é"), 0u);
}

class ids_price_the_decoded_text : public ::testing::TestWithParam<lil::unfinished_character> {};

TEST_P(ids_price_the_decoded_text, at_every_check_including_cut_characters) {
  lil::vocabulary_options vo;
  vo.unfinished = GetParam();
  vo.strips_leading_space = true;
  const auto pieces = split_pieces();
  const auto v = std::make_shared<const lil::vocabulary>(pieces, vo);
  const auto ids = random_ids(pieces, 3000, 5);
  for (bool starts : {true, false}) {
    auto o = every(7);
    o.output_starts_text = starts;
    lil::guardian<> g(o, v);
    for (token_id id : ids) g.accept_id(id);
    std::size_t cut = 0;
    ASSERT_EQ(g.curve().size(), ids.size() / 7);
    for (const auto& p : g.curve()) {
      const std::string text = decoded(*v, ids, p.tokens, starts);
      cut += lil::detail::unfinished_utf8_tail(text) != 0 || text.find("\xEF\xBF\xBD") != std::string::npos;
      ASSERT_EQ(p.size, deflated(text)) << "n = " << p.tokens;
    }
    EXPECT_GT(cut, 20u) << "the stream should cut characters at some checks";
  }
}

INSTANTIATE_TEST_SUITE_P(both_conventions, ids_price_the_decoded_text,
                         ::testing::Values(lil::unfinished_character::per_byte,
                                           lil::unfinished_character::per_character));

TEST(guardian_with_vocabulary, first_token_loses_its_leading_space_only_at_the_text_start) {
  lil::vocabulary_options vo;
  vo.strips_leading_space = true;
  const auto v = std::make_shared<const lil::vocabulary>(std::vector<std::string>{" Hello", " world"}, vo);
  lil::guardian<> fresh(every(2), v);
  fresh.accept_id(0);
  fresh.accept_id(1);
  EXPECT_EQ(fresh.bytes(), 11u);  // "Hello world"
  auto o = every(2);
  o.output_starts_text = false;
  lil::guardian<> after_prompt(o, v);
  after_prompt.accept_id(0);
  after_prompt.accept_id(1);
  EXPECT_EQ(after_prompt.bytes(), 12u);  // " Hello world"
  fresh.reset();
  fresh.accept_id(1);
  EXPECT_EQ(fresh.bytes(), 5u);  // reset starts a new text
}

TEST(guardian_with_vocabulary, ids_equal_their_text_and_raw_ids_are_a_separate_choice) {
  const auto pieces = split_pieces();
  const auto v = std::make_shared<const lil::vocabulary>(pieces);
  const auto ids = random_ids(pieces, 2000, 9);
  lil::guardian<> by_id(every(50), v), by_text(every(50)), raw(every(50));
  for (token_id id : ids) {
    by_id.accept_id(id);
    raw.accept_raw_id(id);
    by_text.accept(pieces[static_cast<std::size_t>(id)]);
  }
  EXPECT_EQ(by_id.bytes(), by_text.bytes());
  EXPECT_EQ(raw.bytes(), 4 * ids.size());
  EXPECT_NE(raw.curve()[raw.curve().size() - 1].size, by_id.curve()[by_id.curve().size() - 1].size);
}

TEST(guardian_with_vocabulary, rollback_over_a_carried_character_restores_the_stream) {
  const auto pieces = split_pieces();
  const auto v = std::make_shared<const lil::vocabulary>(pieces);
  const auto ids = random_ids(pieces, 1500, 13);
  lil::guardian<> g(every(5), v), straight(every(5), v);
  std::mt19937 rng(3);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    g.accept_id(ids[i]);
    straight.accept_id(ids[i]);
    if (rng() % 3 == 0 && g.rollback_limit() > 0) {
      const std::size_t k = 1 + rng() % g.rollback_limit();
      ASSERT_TRUE(g.rollback(k));
      for (std::size_t j = i + 1 - k; j <= i; ++j) g.accept_id(ids[j]);
    }
  }
  ASSERT_EQ(g.curve().size(), straight.curve().size());
  for (std::size_t i = 0; i < g.curve().size(); ++i) EXPECT_EQ(g.curve()[i].size, straight.curve()[i].size) << i;
}

TEST(guardian_with_vocabulary, accepting_ids_and_cut_checks_never_allocate) {
  const auto pieces = split_pieces();
  const auto v = std::make_shared<const lil::vocabulary>(pieces);
  const auto ids = random_ids(pieces, 4000, 17);
  lil::guardian_batch<> batch(8, every(3), v);
  std::vector<token_id> step(8);
  std::vector<verdict> verdicts(8);
  const std::size_t before = lil::test::allocations();
  for (std::size_t t = 0; t < ids.size(); ++t) {
    for (std::size_t i = 0; i < 8; ++i) step[i] = i == 3 && t % 5 == 0 ? lil::no_token : ids[(t + i * 17) % ids.size()];
    batch.accept_ids(step.data(), verdicts.data());
  }
  batch[2].reset();
  batch[2].accept_id(ids[0]);
  EXPECT_EQ(lil::test::allocations(), before);
  EXPECT_GT(batch[0].curve().size(), 1000u);
}

TEST(guardian_with_vocabulary, batch_by_ids_equals_each_guardian_on_its_own) {
  const auto pieces = split_pieces();
  const auto v = std::make_shared<const lil::vocabulary>(pieces);
  const std::size_t n = 6;
  std::vector<std::vector<token_id>> streams;
  for (std::size_t i = 0; i < n; ++i) streams.push_back(random_ids(pieces, 600, static_cast<unsigned>(40 + i)));
  lil::guardian_batch<> batch(n, every(25), v);
  std::vector<lil::guardian<>> alone(n, lil::guardian<>(every(25), v));
  std::vector<token_id> step(n);
  for (std::size_t t = 0; t < 600; ++t) {
    for (std::size_t i = 0; i < n; ++i) {
      step[i] = (t + i) % 9 == 0 ? lil::no_token : streams[i][t];
      if (step[i] != lil::no_token) alone[i].accept_id(step[i]);
    }
    // Two ranges, as two threads would take them.
    batch.accept_ids(step.data(), nullptr, 0, 2);
    batch.accept_ids(step.data(), nullptr, 2, n);
  }
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(batch[i].curve().size(), alone[i].curve().size());
    for (std::size_t c = 0; c < alone[i].curve().size(); ++c)
      EXPECT_EQ(batch[i].curve()[c].size, alone[i].curve()[c].size);
  }
}

}  // namespace
