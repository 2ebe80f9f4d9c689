#include "effscale/models/random_streams.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace effscale::models {

std::recursive_mutex& global_generator_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

at::Generator make_cpu_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

uint64_t draw_global_seed() {
  at::Generator global = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(global.mutex());
  return global.get<at::CPUGeneratorImpl>()->random64();
}

at::Tensor apply_keep_mask(const at::Tensor& x, at::IntArrayRef shape, double keep, at::Generator& generator) {
  torch::Tensor mask = torch::empty(shape, torch::kFloat).bernoulli_(keep, generator).div_(keep);
  return x * mask.to(x.device(), x.scalar_type());
}

}  // namespace effscale::models
