#include "support/scratch_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs::test {

ScratchDir::ScratchDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = buf.data();
  // Servers may run as another user (postgres when we are root): let them enter.
  ::chmod(path_.c_str(), 0755);
}

ScratchDir::~ScratchDir() {
  if (std::getenv("FLASHSALE_KEEP_TEST_DATA")) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace fs::test
