#include "op_profile.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace effscale::bench {
namespace {

namespace profiler = torch::autograd::profiler;

std::string shapes_text(const std::vector<std::vector<int64_t>>& shapes) {
  std::ostringstream s;
  for (const auto& shape : shapes) {
    if (shape.empty()) continue;
    s << "[";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
    s << "]";
  }
  return s.str();
}

struct Group {
  double self_us = 0;
  int64_t calls = 0;
};

}  // namespace

void print_op_profile(const std::function<void()>& work, int rows, std::ostream& out) {
  profiler::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU,
                                                                       /*report_input_shapes=*/true));
  const auto start = std::chrono::steady_clock::now();
  work();
  const double wall_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  const profiler::thread_event_lists lists = profiler::disableProfilerLegacy();
  std::map<std::string, Group> groups;
  double total_us = 0;
  for (const auto& events : lists) {
    // An op's push opens it, its pop closes it; the ops opened inside are its children.
    struct Open {
      const profiler::LegacyEvent* push;
      double children_us;
    };
    std::vector<Open> open;
    for (const auto& e : events) {
      if (e.kindStr() == "push") {
        open.push_back({&e, 0.0});
      } else if (e.kindStr() == "pop" && !open.empty()) {
        const Open o = open.back();
        open.pop_back();
        const double inclusive = o.push->cpuElapsedUs(e);
        Group& g = groups[std::string(o.push->name()) + " " + shapes_text(o.push->shapes())];
        g.self_us += inclusive - o.children_us;
        ++g.calls;
        if (open.empty()) total_us += inclusive;
        else open.back().children_us += inclusive;
      }
    }
  }
  std::vector<std::pair<std::string, Group>> sorted(groups.begin(), groups.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
  char line[96];
  std::snprintf(line, sizeof line, "# %.1f ms in ops of %.1f ms wall time\n", total_us / 1000, wall_us / 1000);
  out << line;
  for (int i = 0; i < rows && i < int(sorted.size()); ++i) {
    const Group& g = sorted[i].second;
    std::snprintf(line, sizeof line, "%9.2f ms %5.1f%% %6lld  ", g.self_us / 1000, 100 * g.self_us / total_us,
                  static_cast<long long>(g.calls));
    out << line << sorted[i].first << "\n";
  }
}

}  // namespace effscale::bench
