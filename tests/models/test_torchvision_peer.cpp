// Cross-check against the real peer: Debian's python3-torchvision builds the same models; its
// parameter counts, the multiply-adds of its convs and linear layers and the elements its convs output, measured
// with forward hooks at odd and even resolutions, must equal our analytic counts.

#include <catch2/catch.hpp>

#include <sstream>

#include "effscale/models/counts.h"
#include "effscale/models/official.h"
#include "run_command.h"

using namespace effscale::models;
using effscale::testing::run_command;

namespace {

// Prints "params macs activations" for torchvision.models.efficientnet_<name>(num_classes) at `resolution`.
const char* const kPeerScript = R"PY(
import sys, torch, torchvision
name, classes, res = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = getattr(torchvision.models, "efficientnet_" + name)(num_classes=classes).eval()
macs = acts = 0
def conv_hook(m, i, o):
    global macs, acts
    acts += o.numel() // o.shape[0]
    macs += o.numel() // o.shape[0] * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
def linear_hook(m, i, o):
    global macs
    macs += m.in_features * m.out_features
for m in model.modules():
    if isinstance(m, torch.nn.Conv2d): m.register_forward_hook(conv_hook)
    if isinstance(m, torch.nn.Linear): m.register_forward_hook(linear_hook)
with torch.no_grad():
    model(torch.zeros(1, 3, res, res))
print(sum(p.numel() for p in model.parameters() if p.requires_grad), macs, acts)
)PY";

}  // namespace

TEST_CASE("parameter, MAC and activation counts agree with python3-torchvision", "[models][counts][peer]") {
  struct Case {
    const char* name;
    int classes;
    int resolution;
  };
  const Case cases[] = {{"b0", 1000, 224}, {"b0", 10, 193}, {"b3", 7, 64}, {"b5", 1000, 97}};
  for (const Case& c : cases) {
    INFO(c.name << " classes " << c.classes << " at " << c.resolution);
    const auto result = run_command("/usr/bin/python3 -c " + effscale::testing::shell_quote(kPeerScript) + " " +
                                    c.name + " " + std::to_string(c.classes) + " " + std::to_string(c.resolution));
    INFO(result.err);
    REQUIRE(result.exit_status == 0);
    std::istringstream peer(result.out);
    int64_t peer_params = 0, peer_macs = 0, peer_activations = 0;
    peer >> peer_params >> peer_macs >> peer_activations;
    ArchSpec spec = official(c.name);
    spec.num_classes = c.classes;
    CHECK(count_params(spec) == peer_params);
    CHECK(count_macs(spec, c.resolution) == peer_macs);
    CHECK(count_activations(spec, c.resolution) == peer_activations);
  }
}
