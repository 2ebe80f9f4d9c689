#pragma once
// ReadOnlyFile: makes a file unwritable for this process for its lifetime.

#include <string>

namespace effscale::testing {

// Makes `path` unwritable for this process: permissions for a user, the immutable flag for root (whom permissions
// do not stop). Undone on destruction. made() is false where neither works (root without CAP_LINUX_IMMUTABLE).
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(std::string path);
  ~ReadOnlyFile();
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  bool made() const { return made_; }

 private:
  std::string path_;
  bool made_ = false;
};

}  // namespace effscale::testing
