#include "effscale/trainers/data_parallel.h"

#include <torch/torch.h>

#include <stdexcept>

namespace effscale::trainers {
namespace {

// One CPU vector of `type` holding every tensor of `parts`, flattened in order.
torch::Tensor flatten(const std::vector<torch::Tensor>& parts, torch::ScalarType type) {
  std::vector<torch::Tensor> flat;
  flat.reserve(parts.size());
  for (const torch::Tensor& t : parts) flat.push_back(t.detach().reshape(-1).to(torch::kCPU, type));
  return flat.empty() ? torch::empty({0}, type) : torch::cat(flat);
}

// Copies the pieces of `flat` back into `parts` (each keeps its device and type).
void unflatten_into(const torch::Tensor& flat, const std::vector<torch::Tensor>& parts) {
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (const torch::Tensor& t : parts) {
    t.copy_(flat.slice(0, offset, offset + t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

std::vector<torch::Tensor> floating_buffers(torch::nn::Module& module) {
  std::vector<torch::Tensor> buffers;
  for (const torch::Tensor& b : module.buffers())
    if (b.is_floating_point()) buffers.push_back(b);
  return buffers;
}

}  // namespace

void broadcast_module(ProcessGroup& group, torch::nn::Module& module) {
  std::vector<torch::Tensor> state = module.parameters();
  for (const torch::Tensor& b : module.buffers()) state.push_back(b);
  torch::Tensor flat = flatten(state, torch::kDouble);  // holds float32 weights and int64 counters exactly
  group.broadcast(flat);
  unflatten_into(flat, state);
}

FlatGradients::FlatGradients(std::vector<torch::Tensor> parameters) : parameters_(std::move(parameters)) {
  int64_t size = 1;  // the loss's slot at the end
  for (const torch::Tensor& p : parameters_) size += p.numel();
  const torch::Device device = parameters_.empty() ? torch::Device(torch::kCPU) : parameters_.front().device();
  flat_ = torch::zeros({size}, torch::TensorOptions().dtype(torch::kFloat).device(device));
  int64_t offset = 0;
  for (torch::Tensor& p : parameters_) {
    TORCH_CHECK(p.device() == device && p.scalar_type() == torch::kFloat && p.is_non_overlapping_and_dense(),
                "FlatGradients: dense float parameters on one device");
    p.mutable_grad() = flat_.as_strided(p.sizes(), p.strides(), offset);
    offset += p.numel();
  }
}

double FlatGradients::average(ProcessGroup& group, double loss) {
  for (const torch::Tensor& p : parameters_)
    if (!p.grad().defined() || p.grad().storage().data() != flat_.storage().data())
      throw std::logic_error("FlatGradients: a gradient was reassigned away from the shared buffer");
  flat_[-1].fill_(loss);
  torch::Tensor host = flat_.device().is_cpu() ? flat_ : flat_.to(torch::kCPU);  // Gloo exchanges host memory
  group.sum(host);
  host.div_(group.size());
  if (!flat_.device().is_cpu()) flat_.copy_(host);
  return host[-1].item<double>();
}

void average_buffers(ProcessGroup& group, torch::nn::Module& module) {
  const std::vector<torch::Tensor> buffers = floating_buffers(module);
  torch::Tensor flat = flatten(buffers, torch::kFloat);
  group.sum(flat);
  flat.div_(group.size());
  unflatten_into(flat, buffers);
}

std::vector<double> sum_over_ranks(ProcessGroup& group, const std::vector<double>& values) {
  torch::Tensor flat = torch::tensor(values, torch::kDouble);
  group.sum(flat);
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

void require_same_on_all_ranks(ProcessGroup& group, const std::vector<std::pair<std::string, double>>& named_values) {
  // A value is equal on all ranks exactly when n * sum(v^2) == (sum v)^2; every rank sees the same sums, so
  // all decide alike.
  std::vector<double> moments;
  for (const auto& [name, value] : named_values) moments.insert(moments.end(), {value, value * value});
  const std::vector<double> sums = sum_over_ranks(group, moments);
  for (size_t i = 0; i < named_values.size(); ++i)
    if (group.size() * sums[2 * i + 1] != sums[2 * i] * sums[2 * i])
      throw std::invalid_argument(named_values[i].first + " differs between the ranks (rank " + std::to_string(group.rank()) +
                                  ": " + std::to_string(named_values[i].second) +
                                  "); start every rank with the same data and options");
}

}  // namespace effscale::trainers
