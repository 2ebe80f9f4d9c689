// Weights interchange against the real peer: python3-torchvision builds EfficientNets with random weights
// and BN statistics and saves them as people have them (torch.save state dicts, training checkpoints,
// safetensors, timm names with TF 'same' padding); our modules must reproduce its eval-mode logits. Our
// own saves must load in Python. Bad files are named.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "effscale/models/block_args.h"
#include "effscale/models/efficientnet.h"
#include "effscale/models/official.h"
#include "effscale/models/pickle_value.h"
#include "effscale/models/safetensors.h"
#include "effscale/models/state_dict_file.h"
#include "effscale/models/torch_archive.h"
#include "effscale/models/weight_loading.h"
#include "effscale/models/weight_naming.h"
#include "effscale/models/weights_error.h"
#include "peer_cache.h"
#include "run_command.h"
#include "temp_dir.h"
#include "tensor_compare.h"

using namespace effscale::models;
using effscale::testing::relative_error;
using effscale::testing::run_command;
using effscale::testing::shell_quote;
using effscale::testing::TempDir;

namespace {

// The peer's cases, generated once for the whole test run.
struct PeerCase {
  const char* name;
  int resolution;
  const char* mode;       // torchvision | timm_tf
  const char* container;  // state_dict | checkpoint | safetensors
};
const PeerCase kCases[] = {{"b0", 160, "torchvision", "state_dict"}, {"b3", 97, "torchvision", "checkpoint"},
                           {"b5", 64, "torchvision", "state_dict"},  {"b7", 64, "torchvision", "state_dict"},
                           {"b0", 128, "timm_tf", "safetensors"},    {"b2", 96, "timm_tf", "state_dict"}};

// The peer's files, made once per build for every test process (see peer_cache.h).
const std::string& peer_dir() {
  static const std::string dir = [] {
    std::string cases;
    for (const PeerCase& c : kCases)
      cases += std::string(" ") + c.name + ":" + std::to_string(c.resolution) + ":" + c.mode + ":" + c.container;
    return effscale::testing::cached_peer_dir(effscale::testing::read_file(EFFSCALE_PEER_WEIGHTS) + cases, [&](const std::string& out) {
      const auto result = run_command("/usr/bin/python3 " + shell_quote(EFFSCALE_PEER_WEIGHTS) + " " + shell_quote(out) + cases);
      if (result.exit_status != 0) throw std::runtime_error("peer failed: " + result.err);
    });
  }();
  return dir;
}

std::string stem(const PeerCase& c) {
  return peer_dir() + "/" + c.name + "_" + std::to_string(c.resolution) + "_" + c.mode;
}

torch::Tensor read_tensor(const std::string& path) {
  const PickleRef value = read_torch_file(path);
  REQUIRE(value->kind == PickleValue::Kind::Tensor);
  return value->tensor;
}

// Builds the peer case's model with the conventions of its source and loads its weights.
EfficientNet load_case(const PeerCase& c) {
  const bool timm = std::string(c.mode) == "timm_tf";
  const WeightFormat format = timm ? WeightFormat::Timm : WeightFormat::Torchvision;
  EfficientNet model(with_weight_conventions(official(c.name), format, timm));
  load_weights(model, read_state_dict(stem(c) + ".weights"), format, stem(c) + ".weights");
  model->eval();
  return model;
}

}  // namespace

TEST_CASE("torchvision and timm weights reproduce the peer's logits", "[models][weights][peer]") {
  torch::NoGradGuard no_grad;
  for (const PeerCase& c : kCases) {
    INFO(c.name << " at " << c.resolution << " (" << c.mode << ", " << c.container << ")");
    EfficientNet model = load_case(c);
    const torch::Tensor input = read_tensor(stem(c) + ".input.pt");
    const torch::Tensor ref = read_tensor(stem(c) + ".logits.pt");  // float64
    const torch::Tensor logits = model->forward(input);
    REQUIRE(logits.sizes() == ref.sizes());
    CHECK(relative_error(logits.to(torch::kDouble), ref) < 1e-4);
    // In float64 the same modules compute the peer's function exactly, up to summation order.
    model->to(torch::kDouble);
    CHECK(relative_error(model->forward(input.to(torch::kDouble)), ref) < 1e-10);
  }
}

TEST_CASE("the wrong padding or BN epsilon misses the tolerance (the peer test can fail)", "[models][weights][peer]") {
  torch::NoGradGuard no_grad;
  const PeerCase& c = kCases[4];  // timm_tf b0 at an even size: TF 'same' pads asymmetrically
  const ArchSpec right = with_weight_conventions(official(c.name), WeightFormat::Timm, /*tf_variant=*/true);
  ArchSpec wrong_padding = right, wrong_eps = right;
  wrong_padding.padding = Padding::Symmetric;
  wrong_eps.bn.eps = 1e-5;
  for (const ArchSpec& spec : {wrong_padding, wrong_eps}) {
    EfficientNet model(spec);
    load_weights(model, read_state_dict(stem(c) + ".weights"), WeightFormat::Timm, "peer");
    model->eval();
    const torch::Tensor logits = model->forward(read_tensor(stem(c) + ".input.pt"));
    const double error = relative_error(logits.to(torch::kDouble), read_tensor(stem(c) + ".logits.pt"));
    INFO("padding " << padding_name(spec.padding) << ", eps " << spec.bn.eps << ": relative error " << error);
    CHECK(error > 1e-2);
  }
}

TEST_CASE("weights we save load in Python's torch and torchvision", "[models][weights][peer]") {
  torch::NoGradGuard no_grad;
  TempDir dir;
  const PeerCase& c = kCases[0];
  EfficientNet model = load_case(c);
  write_state_dict(dir.file("ours.pth"), export_weights(model, WeightFormat::Torchvision));
  const torch::Tensor input = read_tensor(stem(c) + ".input.pt");
  const torch::Tensor ours = model->forward(input);
  const std::string script = R"PY(
import sys, torch, torchvision
model = torchvision.models.efficientnet_b0().eval()
model.load_state_dict(torch.load(sys.argv[1]), strict=True)
with torch.no_grad():
    out = model(torch.load(sys.argv[2]))
torch.save(out, sys.argv[3])
)PY";
  const auto result = run_command("/usr/bin/python3 -c " + shell_quote(script) + " " + dir.file("ours.pth") + " " +
                                  stem(c) + ".input.pt " + dir.file("theirs.pt"));
  INFO(result.err);
  REQUIRE(result.exit_status == 0);
  CHECK(relative_error(ours, read_tensor(dir.file("theirs.pt"))) < 1e-4);

  SECTION("and round-trip through safetensors and our own names") {
    write_state_dict(dir.file("ours.safetensors"), export_weights(model, WeightFormat::Effscale));
    EfficientNet again(model->spec);
    load_weights(again, read_state_dict(dir.file("ours.safetensors")), WeightFormat::Effscale, "ours");
    again->eval();
    CHECK(torch::equal(again->forward(input), ours));
  }
  SECTION("and read back from the torch.save file") {
    EfficientNet again(model->spec);
    load_weights(again, read_state_dict(dir.file("ours.pth")), WeightFormat::Torchvision, "ours");
    again->eval();
    CHECK(torch::equal(again->forward(input), ours));
  }
}

namespace {

// The message of the WeightsError `body` throws, or "no error".
std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const WeightsError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("bad weight files are named, not crashed on", "[models][weights][errors]") {
  TempDir dir;
  const std::string good = stem(kCases[0]) + ".weights";
  const std::string bytes = effscale::testing::read_file(good);

  SECTION("not weights at all") {
    const auto path = dir.write("notes.pth", "hello, this is text\n");
    CHECK_THAT(error_of([&] { read_state_dict(path); }), Catch::Contains("notes.pth") && Catch::Contains("not a torch.save"));
  }
  SECTION("truncated archive") {
    const auto path = dir.write("cut.pth", bytes.substr(0, bytes.size() / 2));
    CHECK_THAT(error_of([&] { read_state_dict(path); }), Catch::Contains("cut.pth"));
  }
  SECTION("weights of another model list what is missing and mis-shaped") {
    EfficientNet b1(with_weight_conventions(official("b1"), WeightFormat::Torchvision, false));
    const std::string what = error_of([&] { load_weights(b1, read_state_dict(good), WeightFormat::Torchvision, good); });
    CHECK_THAT(what, Catch::Contains("128 missing: features.1.1.block.0.0.weight"));
  }
  SECTION("another class count is reported as mis-shaped") {
    ArchSpec spec = with_weight_conventions(official("b0"), WeightFormat::Torchvision, false);
    spec.num_classes = 10;
    EfficientNet model(spec);
    CHECK_THAT(error_of([&] { load_weights(model, read_state_dict(good), WeightFormat::Torchvision, good); }),
               Catch::Contains("2 mis-shaped: classifier.1.weight [1000, 1280] vs model [10, 1280]"));
  }
  SECTION("timm names given as torchvision are unexpected") {
    EfficientNet model(official("b0"));
    CHECK_THAT(error_of([&] { load_weights(model, read_state_dict(good), WeightFormat::Timm, good); }),
               Catch::Contains("unexpected: features.0.0.weight"));
  }
  SECTION("a checkpoint without a state dict names its keys") {
    const auto result = run_command("/usr/bin/python3 -c " +
                                    shell_quote("import sys, torch; torch.save({'epoch': 3, 'lr': 0.1}, sys.argv[1])") +
                                    " " + dir.file("ckpt.pth"));
    REQUIRE(result.exit_status == 0);
    CHECK_THAT(error_of([&] { read_state_dict(dir.file("ckpt.pth")); }), Catch::Contains("checkpoint keys: epoch, lr"));
  }
  SECTION("the legacy format is recognised") {
    const auto result = run_command(
        "/usr/bin/python3 -c " +
        shell_quote("import sys, torch; torch.save({'w': torch.ones(2)}, sys.argv[1], _use_new_zipfile_serialization=False)") +
        " " + dir.file("old.pth"));
    REQUIRE(result.exit_status == 0);
    CHECK_THAT(error_of([&] { read_state_dict(dir.file("old.pth")); }), Catch::Contains("legacy"));
  }
  SECTION("a safetensors header that lies about sizes") {
    StateDict tensors{{"w", torch::ones({4})}};
    std::string file = safetensors_bytes(tensors);
    file.resize(file.size() - 4);
    const auto path = dir.write("short.safetensors", file);
    CHECK_THAT(error_of([&] { read_state_dict(path); }), Catch::Contains("short.safetensors") && Catch::Contains("w"));
  }
}

TEST_CASE("a safetensors header with a shape or offsets that are not whole numbers is refused (found by fuzz_safetensors)",
          "[models][weights][errors]") {
  // A shape entry of 1e27 beside a zero (so that the byte count still agreed) reached nlohmann's conversion to
  // int64, undefined behaviour that UBSan reported; fractions, negative numbers and element counts past what a
  // tensor can hold are refused the same way, naming the file and the tensor.
  TempDir dir;
  const auto file_with = [&](const std::string& name, const std::string& entry) {
    const std::string header = "{\"w\": " + entry + "}";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((header.size() >> (8 * i)) & 0xff);
    return dir.write(name, bytes + header + std::string(16, '\0'));
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"dtype": "F32", "shape": [2, 0, 1e27], "data_offsets": [0, 0]})", "shape is not a list of whole numbers"},
      {R"({"dtype": "F32", "shape": [2.5, 2], "data_offsets": [0, 16]})", "shape is not a list of whole numbers"},
      {R"({"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]})", "shape is not a list of whole numbers"},
      {R"({"dtype": "F32", "shape": 4, "data_offsets": [0, 16]})", "shape is not a list of whole numbers"},
      {R"({"dtype": "F32", "shape": [4], "data_offsets": [0, 16.0]})", "data_offsets is not [begin, end]"},
      {R"({"dtype": "F32", "shape": [4], "data_offsets": [-16, 0]})", "data_offsets is not [begin, end]"},
      {R"({"dtype": "F32", "shape": [4294967296, 4294967296, 0], "data_offsets": [0, 0]})", "more elements than a tensor"},
  };
  int i = 0;
  for (const auto& [entry, message] : cases) {
    INFO(entry);
    const std::string path = file_with("bad" + std::to_string(i++) + ".safetensors", entry);
    CHECK_THAT(error_of([&] { read_state_dict(path); }), Catch::Contains(path) && Catch::Contains("tensor w") && Catch::Contains(message));
  }
  // The same header with good numbers reads.
  const StateDict good = read_state_dict(file_with("good.safetensors", R"({"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]})"));
  REQUIRE(good.size() == 1);
  CHECK(good[0].second.sizes() == torch::IntArrayRef({2, 2}));
}

TEST_CASE("a pickle nesting a million lists is read and dropped without overflowing the stack", "[models][weights][errors]") {
  // EMPTY_LIST a million times, then APPEND each onto the one below: [[[[...]]]], a million deep.
  const size_t depth = 1000000;
  const std::string deep = std::string("\x80\x02", 2) + std::string(depth, ']') + std::string(depth - 1, 'a');
  PickleRef value = unpickle(deep + ".", PickleHooks{}, "deep.pkl");
  REQUIRE(value->kind == PickleValue::Kind::List);
  CHECK(value->items.size() == 1);
  value.reset();  // recursive destruction would take a million frames
  CHECK_THROWS_AS(unpickle(deep, PickleHooks{}, "deep.pkl"), WeightsError);  // no STOP: the stack unwinds too
}

TEST_CASE("a pickle whose value contains itself is refused and freed (found by fuzz_pickle)", "[models][weights][errors]") {
  // l = []; l.append(l) and d = {}; d["self"] = d, as Python pickles them: shared pointers in a cycle would never be
  // freed (LeakSanitizer reported it), and no state dict holds one.
  for (const std::string& bytes : {std::string("\x80\x02]q\x00h\x00" "a.", 9),
                                   std::string("\x80\x02}q\x00X\x04\x00\x00\x00selfq\x01h\x00s.", 20)}) {
    CHECK_THROWS_MATCHES(unpickle(bytes, PickleHooks{}, "cycle.pkl"), WeightsError,
                         Catch::Matchers::Message("cycle.pkl: the pickle holds a value that contains itself"));
  }
  // Sharing without a cycle stays readable: [x, x] with x = [] memoised once.
  const PickleRef shared = unpickle(std::string("\x80\x02]q\x00(]q\x01h\x01" "e.", 13), PickleHooks{}, "shared.pkl");
  REQUIRE(shared->items.size() == 2);
  CHECK(shared->items[0] == shared->items[1]);
}

TEST_CASE("torchvision has no name for a fused or plain block's tensors, and says so", "[models][weights]") {
  effscale::models::ArchSpec spec = effscale::models::official("b0");
  spec.stages[0] = effscale::models::parse_block_string("r1_k3_s11_e1_i32_o16_se0.25_c2");
  spec.stages[1] = effscale::models::parse_block_string("r2_k3_s22_e4_i16_o24_c1");
  const effscale::models::WeightNaming names(spec, effscale::models::WeightFormat::Torchvision);
  CHECK(names.external("conv_stem.weight") == "features.0.0.weight");
  CHECK(names.external("blocks.2.0.conv_dw.weight") == "features.3.0.block.1.0.weight");
  for (const char* name : {"blocks.0.0.conv.weight", "blocks.0.0.bn1.weight", "blocks.0.0.se.conv_reduce.weight",
                           "blocks.1.0.conv_exp.weight", "blocks.1.0.bn1.weight"}) {
    INFO(name);
    CHECK_THROWS_WITH(names.external(name), Catch::Contains("no torchvision name for tensor"));
  }
}
