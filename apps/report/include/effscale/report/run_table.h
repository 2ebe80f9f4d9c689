#pragma once
// RunTable: the runs of an experiment as a CSV table (one row per training run), read, written and collected
// from run folders. The experiment scripts (experiments/*/run) keep their results this way; summarize_runs
// reads them.

#include <optional>
#include <string>
#include <vector>

#include "effscale/cli/output_table.h"

namespace effscale::report {

// A header and rows of text cells, every row as long as the header.
struct RunTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;

  // The index of column `name`; throws std::invalid_argument naming it and the columns there are.
  size_t column(const std::string& name) const;
  // Row `row`'s cell of column `col` as a number; NaN when empty or not a number.
  double number(size_t row, size_t col) const;
};

// The number a cell holds (NaN and infinities included); nothing when it is empty or not wholly a number.
std::optional<double> number_in(const std::string& cell);

// Reads a CSV file (RFC 4180 quoting, one line per row). Throws std::invalid_argument naming the file and line
// when it cannot be read, is empty, or a row has another number of cells than the header.
RunTable read_run_table(const std::string& path);

// The table as CSV text (RFC 4180 quoting where a cell needs it), ending with a newline; cells as they are.
std::string run_table_csv(const RunTable& table);

// The table as an OutputTable, to print in any --format: text cells, or with `typed` numeric cells as JSON
// numbers (written without a decimal point or exponent: as integers).
cli::OutputTable to_output_table(const RunTable& table, bool typed);

// Collects the finished runs under `root` into a table. `layout` names the folder levels below root (for
// "method/phi/seed": root/compound/1/seed2/result.json); a level named "seed" drops a "seed" prefix from its
// folder name. `columns` are the table's columns in order: a layout name takes the folder's value, "seconds"
// the run's wall_s, any other name that key of result.json (empty when absent). Folders without result.json
// (unfinished runs) are left out. Rows are sorted by their layout values, numbers numerically. Throws
// std::invalid_argument when root is not a folder or a result.json is not JSON.
RunTable collect_runs(const std::string& root, const std::vector<std::string>& layout,
                      const std::vector<std::string>& columns);

}  // namespace effscale::report
