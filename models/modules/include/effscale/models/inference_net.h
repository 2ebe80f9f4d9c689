#pragma once
// InferenceNet: the frozen inference form of a trained EfficientNet. Batch norm is folded into the
// convolutions, activations, squeeze-excite gating and residual adds work in place, and the
// squeeze-excite and classifier layers are single matrix products. predict, the trainers' evaluation
// passes and the benchmark run it instead of the training module in eval mode.

#include <torch/types.h>

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "effscale/models/conv2d_pad.h"
#include "effscale/models/efficientnet.h"

namespace effscale::models {

// A convolution with its batch norm folded in, then swish when `swish`: weight * g and bias
// (conv bias - mean) * g + beta per output channel, with g = gamma / sqrt(running_var + eps).
struct FoldedConv {
  torch::Tensor weight;  // [out, in / groups, k, k]
  torch::Tensor bias;    // [out]
  Stride2d stride{1, 1};
  int64_t groups = 1;
  Padding padding = Padding::Symmetric;
  bool swish = true;
  // x -> conv(x) + bias (then swish, in place on the new tensor); x is not changed.
  torch::Tensor forward(const torch::Tensor& x) const;
};

// Folds `bn`'s running statistics and affine parameters into `conv` (computed in double precision,
// stored in the conv weight's dtype and device). Neither module is changed.
FoldedConv fold_batch_norm(const Conv2dPadImpl& conv, const torch::nn::BatchNorm2dImpl& bn, bool swish,
                           torch::MemoryFormat layout = torch::MemoryFormat::Contiguous);

// A 1x1 convolution or linear layer as a matrix product: y = x @ weight^T + bias, x [N, in].
struct Dense {
  torch::Tensor weight;  // [out, in]
  torch::Tensor bias;    // [out]
  // x [N, in] -> [N, out]
  torch::Tensor forward(const torch::Tensor& x) const;
};

// The memory format the inference form runs fastest in on `device`: channels_last on the CPU (oneDNN's
// convolutions at every size measured, B0 224 px 1.15x at batch 1 and 4x at batch 32 over contiguous with
// LibTorch 1.13), contiguous elsewhere.
torch::MemoryFormat fastest_inference_layout(const torch::Device& device);

// One MBConv layer, folded: [expand 1x1 + swish], the k x k convolution + swish, [squeeze-excite], [project 1x1],
// then the residual add or the pooling shortcut as its plan says.
struct FoldedBlock {
  bool expands = false;
  FoldedConv expand;  // 1x1, when expands
  FoldedConv kxk;     // depthwise, or the regular conv of a fused or plain block
  bool has_se = false;
  Dense se_reduce, se_expand;
  bool projects = true;  // false for a plain block
  FoldedConv project;    // no activation
  bool residual = false, pool_shortcut = false;
  std::array<int, 2> strides{1, 1};
  int64_t output_filters = 0;
  // The block through LibTorch's ops (activations and adds in place on its own temporaries; x is not changed).
  torch::Tensor forward(const torch::Tensor& x) const;
};

// A whole EfficientNet, folded: stem, blocks, head (each conv + swish), global mean, classifier.
struct FoldedNetwork {
  FoldedConv stem;
  std::vector<FoldedBlock> blocks;
  FoldedConv head;
  Dense classifier;
};

class OnednnPlans;

// The inference form of an EfficientNet (any spec: fused blocks, pooling shortcuts, either padding).
// Holds its own folded copies of the weights: later changes to the model are not seen, so build it after
// training (it is cheap: one pass over the weights). Where this build has oneDNN (Debian's libdnnl-dev, the
// library LibTorch's CPU convolutions call) and the weights are float32 on the CPU in channels_last, forward runs
// a plan compiled once per input shape (onednn_plan.h: prepacked weights, fused activations and residual adds, no
// allocation per call); elsewhere it runs LibTorch's ops. Copies share the plans; forward may be called from several
// threads (calls through oneDNN take turns).
class InferenceNet {
 public:
  // Folds `model`'s weights and batch-norm running statistics (the model itself is not changed; its
  // training / eval mode does not matter). `layout`: the memory format every activation and weight uses;
  // by default the one measured fastest for the weights' device (fastest_inference_layout). `allow_onednn` false:
  // always LibTorch's ops (the benchmark's comparison).
  explicit InferenceNet(const EfficientNetImpl& model, std::optional<torch::MemoryFormat> layout = std::nullopt,
                        bool allow_onednn = true);
  // x: [N, in_channels, H, W] on the model's device -> logits [N, num_classes], equal to the model's
  // forward in eval mode up to float rounding (1e-4 relative). Runs in inference mode (no autograd);
  // x is not changed. Dropout and drop-connect do not apply. On the CPU, through oneDNN, the batch runs in
  // inference_lanes(...) lanes at once; otherwise a pass of little work per step runs its layers on one thread
  // (threads_for_work).
  torch::Tensor forward(const torch::Tensor& x) const;
  // Whether forward(x) goes to oneDNN's plans (true; a shape oneDNN cannot compile then runs LibTorch's ops) or
  // straight to LibTorch's ops (false); for tests and benchmarks.
  bool runs_onednn(const torch::Tensor& x) const;
  // The folded layers forward runs (for tests and the thread choice's benchmark).
  const FoldedNetwork& network() const { return net_; }

 private:
  torch::MemoryFormat layout_;
  FoldedNetwork net_;
  std::shared_ptr<OnednnPlans> plans_;  // null where oneDNN does not apply
};

}  // namespace effscale::models
