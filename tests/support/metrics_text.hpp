#pragma once
// Reading one sample out of Prometheus' text exposition (tests only).
#include <sstream>
#include <string>

namespace fs::test {

// The value of the sample named exactly `sample` (name and labels as exposed, e.g.
// `x_sum{op="a"}`), or -1 when the text has no such sample.
inline double sample_value(const std::string& exposition, const std::string& sample) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  return -1;
}

}  // namespace fs::test
