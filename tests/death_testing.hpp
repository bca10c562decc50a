// death_testing: helpers for death tests (a program that must end Go's way): a matcher for
// output that must contain several patterns.
#pragma once
#include <gtest/gtest.h>
#include <regex.h>

#include <ostream>
#include <string>
#include <vector>

namespace death_testing {

// Output that matches every one of the patterns (POSIX extended regular expressions).
class all_of_matcher : public testing::MatcherInterface<const std::string&> {
 public:
  explicit all_of_matcher(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}
  bool MatchAndExplain(const std::string& out, testing::MatchResultListener* l) const override {
    for (const auto& p : patterns_) {
      regex_t re;
      if (regcomp(&re, p.c_str(), REG_EXTENDED | REG_NOSUB) != 0) return false;
      bool found = regexec(&re, out.c_str(), 0, nullptr, 0) == 0;
      regfree(&re);
      if (!found) {
        *l << "lacks /" << p << "/";
        return false;
      }
    }
    return true;
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "has";
    for (const auto& p : patterns_) *os << " /" << p << "/";
  }

 private:
  std::vector<std::string> patterns_;
};

inline testing::Matcher<const std::string&> has_all(std::vector<std::string> patterns) {
  return testing::MakeMatcher(new all_of_matcher(std::move(patterns)));
}

}  // namespace death_testing
