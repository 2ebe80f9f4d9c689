#pragma once
// OutputTable: rows of typed cells printed as an aligned table, CSV or JSON (`--format`).

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace effscale::cli {

// The output formats a command offers through --format.
enum class OutputFormat { Table, Csv, Json };

// Parses "table", "csv" or "json"; throws UsageError naming the bad value.
OutputFormat parse_output_format(const std::string& text);

// A table whose cells are JSON values (numbers stay numbers in JSON; arrays print comma-joined in
// table and CSV form).
class OutputTable {
 public:
  explicit OutputTable(std::vector<std::string> columns);
  // Appends a row. Requires cells.size() == number of columns (throws std::logic_error otherwise).
  void add_row(std::vector<nlohmann::json> cells);
  // Table: a header and right-aligned numeric / left-aligned text columns. CSV: a header line and
  // RFC 4180 quoting. JSON: an array of objects keyed by column name. Every form ends with a newline.
  std::string render(OutputFormat format) const;
  // Row `index` as a JSON object keyed by column name. Requires index < rows().
  nlohmann::json row_object(size_t index) const;
  size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<nlohmann::json>> rows_;
};

}  // namespace effscale::cli
