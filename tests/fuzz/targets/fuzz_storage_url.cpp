// Storage URLs (sqlite:///path.db, postgresql://user:password@host/db?param=value): read, checked by libpq's
// parser, and no password libpq would read survives in the text shown in messages.
#include <libpq-fe.h>

#include <cstring>
#include <memory>
#include <string>

#include "effscale/store/storage_location.h"
#include "fuzz_input.h"

namespace {

// The password libpq reads from `libpq_url`, or "" when it reads none (or cannot read the URL).
std::string libpq_password(const std::string& libpq_url) {
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(libpq_url.c_str(), nullptr),
                                                                       &PQconninfoFree);
  if (options == nullptr) return "";
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o)
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) return o->val;
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string url(reinterpret_cast<const char*>(data), size);
  return effscale::fuzz::refuses_or_reads([&] {
    const auto location = effscale::store::parse_storage_url(url);
    if (location.kind != effscale::store::StorageLocation::Kind::Postgres) return;
    // The shown URL, in libpq's spelling, holds no password but the stars.
    std::string shown = location.display;
    shown.replace(0, shown.find("://"), location.libpq_url.substr(0, location.libpq_url.find("://")));
    const std::string password = libpq_password(shown);
    if (!password.empty() && password != "***") __builtin_trap();
  });
}
