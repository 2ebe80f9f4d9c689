#include "effscale/store/storage_location.h"

#include <libpq-fe.h>

#include <memory>
#include <regex>

#include "effscale/store/store_error.h"
#include "one_line.h"

namespace effscale::store {
namespace {

constexpr const char* kExpected = "expected sqlite:///relative/path.db, sqlite:////absolute/path.db or "
                                  "postgresql://user@host:port/dbname";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `text` with %XX escapes decoded, as libpq decodes a URI's parameter names (a malformed escape is kept as is).
std::string percent_decoded(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const int high = i + 2 < text.size() && text[i] == '%' ? hex_digit(text[i + 1]) : -1;
    const int low = high >= 0 ? hex_digit(text[i + 2]) : -1;
    if (low < 0) {
      out += text[i];
      continue;
    }
    out += char(high * 16 + low);
    i += 2;
  }
  return out;
}

// The `first` .. `last` characters of `url` replaced by "***"; returns the index just past the stars.
size_t hide(std::string& url, size_t first, size_t last) {
  url.replace(first, last - first, "***");
  return first + 3;
}

// Throws StoreInputError naming the URL (its password hidden) when libpq cannot read `libpq_url`.
void check_with_libpq(const std::string& libpq_url, const std::string& display) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(libpq_url.c_str(), &error),
                                                                       &PQconninfoFree);
  if (options != nullptr) return;
  const std::string message = one_line(error != nullptr ? error : "out of memory");
  PQfreemem(error);
  throw StoreInputError("storage URL '" + display + "': " + message);
}

}  // namespace

std::string url_without_password(const std::string& url) {
  std::string out = url;
  const size_t scheme_end = out.find("://");
  if (scheme_end == std::string::npos) return out;
  const size_t start = scheme_end + 3;
  size_t after_credentials = start;
  if (const size_t at = out.find_first_of("@/", start); at != std::string::npos && out[at] == '@') {
    const size_t colon = out.find(':', start);  // user:password@, as libpq splits it
    after_credentials = (colon < at ? hide(out, colon + 1, at) : at) + 1;
  }
  const size_t query = out.find('?', after_credentials);
  if (query == std::string::npos) return out;
  for (size_t pos = query + 1; pos <= out.size();) {
    size_t end = std::min(out.find('&', pos), out.size());
    if (const size_t equals = out.find('=', pos); equals < end && percent_decoded(out.substr(pos, equals - pos)) == "password")
      end = hide(out, equals + 1, end);
    pos = end + 1;
  }
  return out;
}

StorageLocation parse_storage_url(const std::string& url) {
  StorageLocation location;
  location.display = url_without_password(url);
  // Anywhere, a password's included (libpq and the file system would read the URL only up to it); the message shows
  // the password-free text up to its first NUL.
  if (url.find('\0') != std::string::npos) {
    const std::string shown = location.display.substr(0, location.display.find('\0'));
    throw StoreInputError("storage URL '" + shown + (shown.size() < location.display.size() ? "..." : "") +
                          "': holds a NUL byte");
  }
  for (const char* scheme : {"postgresql://", "postgres://", "postgresql+", "postgres+"}) {
    if (url.rfind(scheme, 0) != 0) continue;
    location.kind = StorageLocation::Kind::Postgres;
    // SQLAlchemy spells the driver into the scheme (postgresql+psycopg2://); libpq takes the plain scheme.
    location.libpq_url = std::regex_replace(url, std::regex("^postgres(ql)?\\+[a-z0-9_]+://"), "postgresql://");
    if (location.libpq_url.rfind("postgresql://", 0) != 0 && location.libpq_url.rfind("postgres://", 0) != 0)
      throw StoreInputError("storage URL '" + location.display + "': " + kExpected);
    check_with_libpq(location.libpq_url, location.display);
    return location;
  }
  const std::string scheme = "sqlite:///";
  if (url.rfind(scheme, 0) != 0) throw StoreInputError("storage URL '" + location.display + "': " + kExpected);
  location.sqlite_path = url.substr(scheme.size());
  if (location.sqlite_path.empty())
    throw StoreInputError("storage URL '" + location.display + "': the database path is empty");
  return location;
}

}  // namespace effscale::store
