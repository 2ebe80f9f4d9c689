#include "read_only_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include "run_command.h"

namespace effscale::testing {

ReadOnlyFile::ReadOnlyFile(std::string path) : path_(std::move(path)) {
  if (geteuid() != 0) made_ = chmod(path_.c_str(), 0444) == 0;
  else made_ = run_command("chattr +i " + shell_quote(path_) + " 2>/dev/null").exit_status == 0;
}

ReadOnlyFile::~ReadOnlyFile() {
  if (geteuid() != 0) chmod(path_.c_str(), 0644);
  else if (made_) run_command("chattr -i " + shell_quote(path_) + " 2>/dev/null");
}

}  // namespace effscale::testing
