#pragma once
// A library's message (libpq's end in a newline and may span lines) as one line, for one-line errors.

#include <string>

namespace effscale::store {

// `message` with trailing newlines and spaces dropped and inner newlines made spaces; "unknown error" for null.
inline std::string one_line(const char* message) {
  std::string text = message != nullptr ? message : "unknown error";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

}  // namespace effscale::store
