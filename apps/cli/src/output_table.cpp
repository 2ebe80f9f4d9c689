#include "effscale/cli/output_table.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "effscale/cli/app_main.h"

namespace effscale::cli {
namespace {

std::string cell_text(const nlohmann::json& cell) {
  if (cell.is_string()) return cell.get<std::string>();
  if (cell.is_null()) return "";
  if (cell.is_array()) {
    std::string joined;
    for (const auto& item : cell) joined += (joined.empty() ? "" : ",") + cell_text(item);
    return joined;
  }
  return cell.dump();
}

std::string csv_quote(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

OutputFormat parse_output_format(const std::string& text) {
  if (text == "table") return OutputFormat::Table;
  if (text == "csv") return OutputFormat::Csv;
  if (text == "json") return OutputFormat::Json;
  throw UsageError("--format '" + text + "': expected table, csv or json");
}

OutputTable::OutputTable(std::vector<std::string> columns) : columns_(std::move(columns)) {}

void OutputTable::add_row(std::vector<nlohmann::json> cells) {
  if (cells.size() != columns_.size()) throw std::logic_error("OutputTable: row width differs from header");
  rows_.push_back(std::move(cells));
}

nlohmann::json OutputTable::row_object(size_t index) const {
  nlohmann::json object = nlohmann::json::object();
  for (size_t c = 0; c < columns_.size(); ++c) object[columns_[c]] = rows_.at(index)[c];
  return object;
}

std::string OutputTable::render(OutputFormat format) const {
  std::ostringstream out;
  if (format == OutputFormat::Json) {
    nlohmann::json array = nlohmann::json::array();
    for (size_t r = 0; r < rows_.size(); ++r) array.push_back(row_object(r));
    out << array.dump(2) << "\n";
  } else if (format == OutputFormat::Csv) {
    for (size_t c = 0; c < columns_.size(); ++c) out << (c ? "," : "") << csv_quote(columns_[c]);
    out << "\n";
    for (const auto& row : rows_) {
      for (size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << csv_quote(cell_text(row[c]));
      out << "\n";
    }
  } else {
    std::vector<size_t> width(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
      width[c] = columns_[c].size();
      for (const auto& row : rows_) width[c] = std::max(width[c], cell_text(row[c]).size());
    }
    auto line = [&](const std::vector<std::string>& texts, const std::vector<bool>& right) {
      std::string s;
      for (size_t c = 0; c < texts.size(); ++c) {
        const std::string pad(width[c] - texts[c].size(), ' ');
        s += (c ? "  " : "") + (right[c] ? pad + texts[c] : texts[c] + pad);
      }
      s.erase(s.find_last_not_of(' ') + 1);
      out << s << "\n";
    };
    line(columns_, std::vector<bool>(columns_.size(), false));
    for (const auto& row : rows_) {
      std::vector<std::string> texts;
      std::vector<bool> right;
      for (const auto& cell : row) {
        texts.push_back(cell_text(cell));
        right.push_back(cell.is_number());
      }
      line(texts, right);
    }
  }
  return out.str();
}

}  // namespace effscale::cli
