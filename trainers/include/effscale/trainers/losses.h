#pragma once
// Classification losses and metrics.

#include <torch/types.h>

namespace effscale::trainers {

// Cross-entropy with label smoothing: (1 - s) * NLL(target) + s * mean over classes of -log p, averaged
// over the batch. logits [B, K], targets int64 [B]; smoothing in [0, 1).
torch::Tensor label_smoothing_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, double smoothing);

// Number of samples whose target is among the k highest logits.
int64_t count_topk_correct(const torch::Tensor& logits, const torch::Tensor& targets, int64_t k);

}  // namespace effscale::trainers
