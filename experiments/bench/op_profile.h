#pragma once
// Where a piece of LibTorch work spends its time, op by op: LibTorch's profiler around a callable, the ops grouped by
// name and input shapes, printed by self time (the op's own time, its children's taken out).

#include <functional>
#include <iosfwd>

namespace effscale::bench {

// Runs `work` under LibTorch's CPU profiler with input shapes recorded and writes the `rows` groups (op name and
// input shapes) with the most self time to `out`, one per line: self ms, share of the total, calls, name, shapes.
void print_op_profile(const std::function<void()>& work, int rows, std::ostream& out);

}  // namespace effscale::bench
