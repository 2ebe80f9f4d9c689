#pragma once
// TempDir: a fresh directory under the system temp path, removed with everything in it on destruction.

#include <filesystem>
#include <string>

namespace effscale::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // The directory itself.
  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `contents` to path() / name and returns that path.
  std::string write(const std::string& name, const std::string& contents) const;

 private:
  std::filesystem::path path_;
};

// The whole contents of a file ("" when it cannot be read).
std::string read_file(const std::string& path);

}  // namespace effscale::testing
