#include "effscale/trainers/losses.h"

#include <torch/torch.h>

namespace effscale::trainers {

torch::Tensor label_smoothing_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, double smoothing) {
  const torch::Tensor log_probs = torch::log_softmax(logits, 1);
  const torch::Tensor nll = -log_probs.gather(1, targets.unsqueeze(1)).squeeze(1);
  if (smoothing == 0.0) return nll.mean();
  return ((1.0 - smoothing) * nll - smoothing * log_probs.mean(1)).mean();
}

int64_t count_topk_correct(const torch::Tensor& logits, const torch::Tensor& targets, int64_t k) {
  k = std::min<int64_t>(k, logits.size(1));
  const torch::Tensor top = std::get<1>(logits.topk(k, 1));
  return top.eq(targets.unsqueeze(1)).any(1).sum().item<int64_t>();
}

}  // namespace effscale::trainers
