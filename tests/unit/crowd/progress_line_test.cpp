#include "crowd/progress_line.hpp"

#include <gtest/gtest.h>

namespace fs::crowd {
namespace {

ProgressSnapshot half() {
  ProgressSnapshot s;
  s.done = 500;
  s.total = 1000;
  s.rps = 2500;
  s.elapsed_seconds = 0.2;
  s.created = 100;
  s.sold_out = 390;
  s.conflict = 7;
  s.other = 3;
  return s;
}

TEST(ProgressLine, TerminalRedrawsOneLine) {
  const auto line = format_progress(half(), true);
  EXPECT_EQ(line.front(), '\r');
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("[###############...............]"), std::string::npos) << line;
  EXPECT_NE(line.find("500/1000"), std::string::npos) << line;
  EXPECT_NE(line.find("50.0%"), std::string::npos) << line;
  EXPECT_NE(line.find("2500 req/s"), std::string::npos) << line;
  EXPECT_NE(line.find("201:100 410:390 409:7 other:3"), std::string::npos) << line;
}

TEST(ProgressLine, LogsGetPlainLines) {
  const auto line = format_progress(half(), false);
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_EQ(line.rfind("[crowd", 0), 0u) << line;
  EXPECT_NE(line.find("201:100 410:390 409:7 other:3"), std::string::npos) << line;
}

TEST(ProgressLine, FullAndEmptyRuns) {
  ProgressSnapshot s;
  s.total = 10;
  s.done = 10;
  EXPECT_NE(format_progress(s, true).find("[##############################]"), std::string::npos);
  s.total = 0;
  s.done = 0;
  EXPECT_NE(format_progress(s, false).find("100.0%"), std::string::npos);
}

}  // namespace
}  // namespace fs::crowd
