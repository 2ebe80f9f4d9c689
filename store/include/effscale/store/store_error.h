#pragma once
// The kinds of failure the store reports (docs/errors.md).

#include <stdexcept>
#include <string>

namespace effscale::store {

// Bad input: a malformed storage URL, a file that is not a SQLite database, a schema this version does
// not know, a location that cannot be written, a study or trial that does not exist, a trial that is
// not in a state that allows the change. Apps map it to exit status 2.
class StoreInputError : public std::invalid_argument {
 public:
  explicit StoreInputError(const std::string& message) : std::invalid_argument(message) {}
};

// The database failed while doing valid work (I/O error, busy past the timeout). Exit status 1.
class StoreFailure : public std::runtime_error {
 public:
  explicit StoreFailure(const std::string& message) : std::runtime_error(message) {}
};

// Another program held the database's lock for longer than the busy timeout: a failure of the moment (exit status
// 1), never a sign that the database is not a study database.
class StoreLocked : public StoreFailure {
 public:
  explicit StoreLocked(const std::string& message) : StoreFailure(message) {}
};

}  // namespace effscale::store
