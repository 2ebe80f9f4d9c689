#pragma once
// The commands effscale installs: the front command lists and runs them (`effscale TOOL`), and a config's
// `[TOOL]` section holds keys for that command alone (command_line.h). Header-only, so that the front command
// needs no library.

#include <string_view>

namespace effscale::cli {

// One command: its name (also its executable's) and a line saying what it does.
struct Tool {
  std::string_view name;
  std::string_view summary;
};

// Every command effscale installs, in the order of the pipeline.
inline constexpr Tool kTools[] = {
    {"nas_search", "search a mobile baseline in the MnasNet space (PPO, evolution or random) on a proxy task"},
    {"grid_alpha_beta_gamma", "grid-search alpha, beta, gamma under alpha * beta^2 * gamma^2 ~ 2"},
    {"scale_models", "emit B1..B7 from a baseline and coefficients (or the official table) and train them"},
    {"train_model", "train one model (official name, reference network or spec) on a dataset"},
    {"predict", "classify images with trained or downloaded weights"},
    {"query_results", "query a study database: trials, best-trial, best-trials, export, report"},
    {"model_info", "parameters and multiply-adds of a spec, from the spec alone"},
    {"summarize_runs", "seed statistics, leaders and charts with intervals over run folders"},
};

// Whether `name` is one of kTools.
constexpr bool is_tool(std::string_view name) {
  for (const Tool& tool : kTools)
    if (tool.name == name) return true;
  return false;
}

}  // namespace effscale::cli
