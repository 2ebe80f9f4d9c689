#include "effscale/report/run_table.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace effscale::report {

namespace fs = std::filesystem;

size_t RunTable::column(const std::string& name) const {
  const auto it = std::find(columns.begin(), columns.end(), name);
  if (it != columns.end()) return size_t(it - columns.begin());
  std::string known;
  for (const std::string& c : columns) known += (known.empty() ? "" : ", ") + c;
  throw std::invalid_argument("no column '" + name + "' (columns: " + known + ")");
}

std::optional<double> number_in(const std::string& cell) {
  char* end = nullptr;
  const double v = std::strtod(cell.c_str(), &end);
  if (cell.empty() || end != cell.c_str() + cell.size()) return std::nullopt;
  return v;
}

double RunTable::number(size_t row, size_t col) const {
  return number_in(rows.at(row).at(col)).value_or(std::numeric_limits<double>::quiet_NaN());
}

namespace {

// The cells of one CSV line; false when a quote is left open.
bool split_csv_line(const std::string& line, std::vector<std::string>& cells) {
  cells.assign(1, "");
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      cells.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.emplace_back();
    } else if (c != '\r' || quoted) {
      cells.back() += c;
    }
  }
  return !quoted;
}

// Orders layout values: numbers numerically and before text, text alphabetically.
bool value_less(const std::string& a, const std::string& b) {
  char *ea = nullptr, *eb = nullptr;
  const double va = std::strtod(a.c_str(), &ea), vb = std::strtod(b.c_str(), &eb);
  const bool na = !a.empty() && *ea == '\0', nb = !b.empty() && *eb == '\0';
  if (na && nb) return va < vb;
  if (na != nb) return na;
  return a < b;
}

// The text of a result.json value as a CSV cell.
std::string cell_of(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

RunTable read_run_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read '" + path + "'");
  RunTable table;
  std::string line;
  std::vector<std::string> cells;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line == "\r") continue;
    if (!split_csv_line(line, cells)) throw std::invalid_argument(path + " line " + std::to_string(number) + ": unclosed quote");
    if (table.columns.empty()) {
      table.columns = cells;
    } else if (cells.size() != table.columns.size()) {
      throw std::invalid_argument(path + " line " + std::to_string(number) + ": " + std::to_string(cells.size()) +
                                  " cells, the header has " + std::to_string(table.columns.size()));
    } else {
      table.rows.push_back(cells);
    }
  }
  if (table.columns.empty()) throw std::invalid_argument(path + ": empty (expected a CSV header)");
  return table;
}

std::string run_table_csv(const RunTable& table) { return to_output_table(table, false).render(cli::OutputFormat::Csv); }

cli::OutputTable to_output_table(const RunTable& table, bool typed) {
  cli::OutputTable out(table.columns);
  for (size_t r = 0; r < table.rows.size(); ++r) {
    std::vector<nlohmann::json> cells;
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const std::string& text = table.rows[r][c];
      const double v = typed ? table.number(r, c) : NAN;
      if (!std::isfinite(v)) cells.push_back(text);
      else if (text.find_first_of(".eE") == std::string::npos && std::fabs(v) < 9e15) cells.push_back(int64_t(v));
      else cells.push_back(v);
    }
    out.add_row(std::move(cells));
  }
  return out;
}

RunTable collect_runs(const std::string& root, const std::vector<std::string>& layout,
                      const std::vector<std::string>& columns) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw std::invalid_argument("'" + root + "' is not a folder");
  std::vector<std::pair<std::vector<std::string>, fs::path>> runs;  // layout values, result.json
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() != "result.json" || size_t(it.depth()) != layout.size()) continue;
    std::vector<std::string> values;
    for (const fs::path& part : fs::relative(it->path().parent_path(), root)) values.push_back(part.string());
    for (size_t i = 0; i < layout.size(); ++i)
      if (layout[i] == "seed" && values[i].rfind("seed", 0) == 0) values[i] = values[i].substr(4);
    runs.emplace_back(values, it->path());
  }
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return std::lexicographical_compare(a.first.begin(), a.first.end(), b.first.begin(), b.first.end(), value_less);
  });
  RunTable table{columns, {}};
  for (const auto& [values, result_path] : runs) {
    std::ifstream in(result_path);
    const nlohmann::json result = nlohmann::json::parse(in, nullptr, false);
    if (result.is_discarded() || !result.is_object()) throw std::invalid_argument("'" + result_path.string() + "' is not a JSON object");
    std::vector<std::string> row;
    for (const std::string& c : columns) {
      const auto level = std::find(layout.begin(), layout.end(), c);
      if (level != layout.end()) row.push_back(values[size_t(level - layout.begin())]);
      else row.push_back(cell_of(result.value(c == "seconds" ? "wall_s" : c, nlohmann::json())));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

}  // namespace effscale::report
