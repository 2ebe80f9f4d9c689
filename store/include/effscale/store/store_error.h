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

// The database is sound but what it lives on failed at this moment: its lock held past the busy timeout, the disk
// full, an I/O error. Exit status 1; never a sign that the database is not a study database, so the checks that
// turn other failures into "not a study database" (StoreInputError) let it through as it is.
class StoreEnvironmentFailure : public StoreFailure {
 public:
  explicit StoreEnvironmentFailure(const std::string& message) : StoreFailure(message) {}
};

// Another program held the database's lock for longer than the busy timeout.
class StoreLocked : public StoreEnvironmentFailure {
 public:
  explicit StoreLocked(const std::string& message) : StoreEnvironmentFailure(message) {}
};

// The disk is full or failed (SQLite's SQLITE_FULL, SQLITE_IOERR): the database keeps its last committed state.
class StoreDiskFailure : public StoreEnvironmentFailure {
 public:
  explicit StoreDiskFailure(const std::string& message) : StoreEnvironmentFailure(message) {}
};

}  // namespace effscale::store
