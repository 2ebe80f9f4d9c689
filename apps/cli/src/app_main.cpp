#include "effscale/cli/app_main.h"

#include <ctime>
#include <mutex>
#include <new>

#include <boost/program_options/errors.hpp>

#include <iostream>

#include "effscale/cli/command_line.h"

namespace effscale::cli {

int run_app(const std::string& command, const std::function<int()>& body) {
  try {
    return body();
  } catch (boost::program_options::error& e) {
    std::cerr << command << ": error: " << program_options_message(e) << " (see --help)\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << command << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << command << ": error: out of memory (the model, batch or data is too large for this machine)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << command << ": error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << command << ": error: unknown failure\n";
    return 1;
  }
}

std::function<void(const std::string& line)> stderr_log(const std::string& command) {
  auto mutex = std::make_shared<std::mutex>();
  return [command, mutex](const std::string& line) {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    std::lock_guard lock(*mutex);
    std::cerr << stamp << " " << command << ": " << line << "\n";
  };
}

}  // namespace effscale::cli
