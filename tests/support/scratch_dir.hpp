#pragma once
// A fresh directory under $TMPDIR for one test's server data; removed on destruction
// unless FLASHSALE_KEEP_TEST_DATA is set.
#include <filesystem>
#include <string>

namespace fs::test {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "flashsale-test");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace fs::test
