#include "effscale/cli/app_main.h"

#include <ctime>
#include <mutex>
#include <new>

#include <boost/program_options/errors.hpp>

#include <iostream>

#include "effscale/cli/command_line.h"

namespace effscale::cli {

namespace {

// The length of the valid UTF-8 sequence at text[i] (1-4), or 0 when the bytes there are not one.
size_t utf8_sequence_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  const size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > text.size() || (n == 2 && lead < 0xc2)) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((byte(i + k) >> 6) != 0x2) return 0;
  return n;
}

// `message` as one printable line: LibTorch's backtrace (from "\nException raised from") cut off, control
// characters and bytes that are not UTF-8 (a config line or file name can hold them) written as \xNN.
std::string one_line(const std::string& message) {
  const std::string text = message.substr(0, message.find("\nException raised from "));
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = c < 0x20 || c == 0x7f ? 0 : utf8_sequence_length(text, i);
    if (n > 0) {
      out.append(text, i, n);
      i += n;
      continue;
    }
    static const char* const kHex = "0123456789abcdef";
    out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
    ++i;
  }
  return out;
}

}  // namespace

int run_app(const std::string& command, const std::function<int()>& body) {
  try {
    return body();
  } catch (boost::program_options::error& e) {
    std::cerr << command << ": error: " << one_line(program_options_message(e)) << " (see --help)\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << command << ": error: " << one_line(e.what()) << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << command << ": error: out of memory (the model, batch or data is too large for this machine)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << command << ": error: " << one_line(e.what()) << "\n";
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
