// The `lil deflate` and `lil size` commands, run as a user runs them.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>

#include "lil/deflate/compressor.hpp"
#include "support/deflate_oracle.hpp"

namespace lil::deflate {
namespace {

struct run_result {
  int status;
  std::string out;
};

// Runs a shell command line; captures stdout (stderr goes to a file read back).
run_result run(const std::string& command) {
  std::FILE* p = ::popen(command.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string lil = LIL_TEST_CLI;

TEST(cli_size, every_line_equals_the_from_scratch_size_of_its_prefix) {
  test::bytes data = test::wordy(120000, 3);
  const std::string in = test::temp_path("size_in");
  test::write_all(in, data);
  for (const char* prof : {"gzip", "zlib"}) {
    for (int level : {1, 6, 9}) {
      run_result r = run(lil + " size -" + std::to_string(level) + " --profile " + prof + " --every 10007 < " + in);
      ASSERT_EQ(r.status, 0);
      std::istringstream lines(r.out);
      std::uint64_t offset, size, last = 0;
      int count = 0;
      options o;
      o.level = level;
      o.profile = std::string(prof) == "zlib" ? profile::zlib : profile::gzip;
      while (lines >> offset >> size) {
        ++count;
        EXPECT_TRUE(offset % 10007 == 0 || offset == data.size()) << offset;
        EXPECT_GT(offset, last);
        last = offset;
        EXPECT_EQ(size, deflate_size(data.data(), offset, o)) << prof << " -" << level << " prefix " << offset;
        if (o.profile == profile::zlib) {
          EXPECT_EQ(size, test::zlib_raw_size(data.data(), offset, level));
        }
      }
      EXPECT_EQ(count, 12);  // 11 multiples of 10007 and the whole input
      EXPECT_EQ(last, data.size());
    }
  }
  // gzip itself, on a few prefixes of the gzip profile's lines.
  run_result r = run(lil + " size --every 40000 < " + in);
  std::istringstream lines(r.out);
  std::uint64_t offset, size;
  while (lines >> offset >> size) {
    test::bytes prefix(data.begin(), data.begin() + static_cast<long>(offset));
    EXPECT_EQ(size + 18, test::gzip_oracle(prefix, 6).size()) << offset;
  }
  std::remove(in.c_str());
}

TEST(cli_size, empty_input_reports_one_line_for_the_whole_input) {
  run_result r = run(lil + " size --every 100 < /dev/null");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "0 2\n");
}

TEST(cli_deflate, gzip_format_is_identical_to_gzip_and_round_trips) {
  test::bytes data = test::wordy(90000, 5);
  const std::string in = test::temp_path("deflate_in"), out = test::temp_path("deflate_out");
  test::write_all(in, data);
  for (int level : {1, 9}) {
    ASSERT_EQ(run(lil + " deflate -" + std::to_string(level) + " --format gzip < " + in + " > " + out).status, 0);
    EXPECT_TRUE(test::read_all(out) == test::gzip_oracle(data, level));
  }
  ASSERT_EQ(run(lil + " deflate --format raw < " + in + " > " + out).status, 0);
  EXPECT_TRUE(test::inflate_raw(test::read_all(out)) == data);
  ASSERT_EQ(run(lil + " deflate --profile zlib --format zlib -4 < " + in + " > " + out).status, 0);
  EXPECT_TRUE(test::read_all(out) == test::zlib_oracle(data, 4));
  std::remove(in.c_str());
  std::remove(out.c_str());
}

TEST(cli_errors, bad_flags_exit_2_with_one_line_naming_the_flag) {
  struct bad {
    std::string args, mention;
  } cases[] = {{"size --every 0", "--every"},
               {"size", "--every"},
               {"size --every 10 --profile brotli", "--profile"},
               {"deflate --format zip", "--format"},
               {"deflate --level 12", "--level"},
               {"deflate --bogus", "--bogus"},
               {"frobnicate", "frobnicate"}};
  for (const auto& c : cases) {
    run_result r = run(lil + " " + c.args + " < /dev/null 2>&1 >/dev/null");
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find(c.mention), std::string::npos) << c.args << ": " << r.out;
  }
}

TEST(cli_errors, io_errors_exit_1_naming_the_stream) {
  run_result w = run("echo hello | " + lil + " deflate 2>&1 >/dev/full");
  EXPECT_EQ(w.status, 1);
  EXPECT_NE(w.out.find("<stdout>"), std::string::npos) << w.out;
  run_result r = run(lil + " size --every 10 < / 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("<stdin>"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace lil::deflate
