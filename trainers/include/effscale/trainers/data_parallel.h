#pragma once
// Data-parallel training over a ProcessGroup: keeping the replicas equal and combining what the ranks compute.
// Tensors may live on any device; the exchange goes through one flat CPU buffer per call.

#include <torch/types.h>

#include <string>
#include <vector>

#include "effscale/trainers/process_group.h"

namespace torch::nn {
class Module;
}

namespace effscale::trainers {

// Copies rank 0's parameters and buffers into `module` on every rank.
void broadcast_module(ProcessGroup& group, torch::nn::Module& module);

// Replaces each parameter's gradient by its mean over the ranks (a missing gradient counts as zeros) and
// returns the mean of `loss` over the ranks, both in one exchange: every rank then sees the same step and the
// same loss, so a non-finite loss on any rank stops all of them.
double average_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& parameters, double loss);

// Replaces each floating-point buffer of `module` (batch norm's running statistics) by its mean over the ranks.
void average_buffers(ProcessGroup& group, torch::nn::Module& module);

// The elementwise sums of `values` over the ranks.
std::vector<double> sum_over_ranks(ProcessGroup& group, const std::vector<double>& values);

// Throws std::invalid_argument, on every rank alike, unless `value` is the same on all of them; the message
// names `what` and this rank's value.
void require_same_on_all_ranks(ProcessGroup& group, double value, const std::string& what);

}  // namespace effscale::trainers
