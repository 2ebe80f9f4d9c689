#pragma once
// Data-parallel training over a ProcessGroup: keeping the replicas equal and combining what the ranks compute.
// Tensors may live on any device; the exchange goes through one flat CPU buffer per call.

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

#include "effscale/trainers/process_group.h"

namespace torch::nn {
class Module;
}

namespace effscale::trainers {

// Copies rank 0's parameters and buffers into `module` on every rank.
void broadcast_module(ProcessGroup& group, torch::nn::Module& module);

// The gradients of a set of parameters kept in one flat buffer: each parameter's .grad is a view into it
// (with the parameter's own strides, so channels_last stays), so backward accumulates straight into the
// buffer and averaging over the ranks is one in-place exchange, with no copies on the CPU. Gradients must
// then be zeroed in place (TrainOptimizer::zero_grad does; torch::optim's zero_grad cannot, it detaches
// them), never reassigned.
class FlatGradients {
 public:
  // Points every parameter's gradient into a new zeroed buffer on the parameters' device (all on one).
  explicit FlatGradients(std::vector<torch::Tensor> parameters);
  // Replaces every gradient by its mean over the ranks and returns the mean of `loss`, both in one
  // exchange: every rank then takes the same step and sees the same loss, so a non-finite loss on any rank
  // stops all of them. Throws std::logic_error when a gradient was reassigned away from the buffer.
  double average(ProcessGroup& group, double loss);

 private:
  std::vector<torch::Tensor> parameters_;
  torch::Tensor flat_;  // every gradient, then one slot for the loss
};

// Replaces each floating-point buffer of `module` (batch norm's running statistics) by its mean over the ranks.
void average_buffers(ProcessGroup& group, torch::nn::Module& module);

// The elementwise sums of `values` over the ranks.
std::vector<double> sum_over_ranks(ProcessGroup& group, const std::vector<double>& values);

// Throws std::invalid_argument, on every rank alike, unless each named value is the same on all of them (one
// exchange for all); the message names the first that differs and this rank's value of it.
void require_same_on_all_ranks(ProcessGroup& group, const std::vector<std::pair<std::string, double>>& named_values);

}  // namespace effscale::trainers
