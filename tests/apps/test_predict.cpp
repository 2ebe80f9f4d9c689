// predict, run as users run it: torchvision weights from the peer, an image and a saved tensor, logits
// written for torch.load, and bad input answered with one line, exit status 2 and no output file.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>

#include "dataset_files.h"
#include "peer_cache.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::testing;

namespace {

std::string predict(const std::string& args) { return std::string(EFFSCALE_PREDICT) + " " + args + " --threads 2"; }

// One torchvision B0 with random weights plus its input tensor (2 x 3 x 64 x 64) and logits, made once per build.
struct PeerFiles {
  std::string dir;
  std::string file(const std::string& name) const { return dir + "/" + name; }
};

const PeerFiles& peer() {
  static const PeerFiles files{cached_peer_dir(read_file(EFFSCALE_PEER_WEIGHTS) + " b0:64:torchvision:checkpoint", [](const std::string& out) {
    const auto result = run_command("/usr/bin/python3 " + shell_quote(EFFSCALE_PEER_WEIGHTS) + " " + shell_quote(out) +
                                    " b0:64:torchvision:checkpoint");
    if (result.exit_status != 0) throw std::runtime_error("peer failed: " + result.err);
  })};
  return files;
}

std::string weights() { return peer().file("b0_64_torchvision.weights"); }

// A 3-line stderr check: one line, naming `what`.
void check_one_line_error(const CommandResult& result, const std::string& what) {
  CHECK(result.exit_status == 2);
  CHECK(result.err.find(what) != std::string::npos);
  CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
}

// dir/name, a tensor file python3-torch saves from `expression` (such as "torch.zeros(3, 8, 8)").
std::string saved_tensor(const TempDir& dir, const std::string& name, const std::string& expression) {
  const std::string path = dir.file(name);
  const auto made = run_command("/usr/bin/python3 -c " +
                                shell_quote("import sys, torch; torch.save(" + expression + ", sys.argv[1])") + " " + path);
  REQUIRE(made.exit_status == 0);
  return path;
}

}  // namespace

TEST_CASE("predict reproduces the peer's logits from a saved tensor and writes them for torch.load", "[apps][predict][peer]") {
  TempDir dir;
  const auto result = run_command(predict("--model efficientnet_b0 --weights " + weights() + " --input " +
                                          peer().file("b0_64_torchvision.input.pt") + " --output " +
                                          dir.file("logits.pt") + " --topk 3 --format csv"));
  INFO(result.err);
  REQUIRE(result.exit_status == 0);
  CHECK(std::count(result.out.begin(), result.out.end(), '\n') == 1 + 2 * 3);  // header + 2 inputs x top-3
  const std::string check = R"PY(
import sys, torch
ours, ref = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert ours.shape == ref.shape, (ours.shape, ref.shape)
err = ((ours - ref).abs().max() / ref.abs().max()).item()
assert err < 1e-4, err
top = ref.softmax(1).topk(3, 1).indices
print(",".join(str(int(c)) for c in top[0]))
)PY";
  const auto peer_check = run_command("/usr/bin/python3 -c " + shell_quote(check) + " " + dir.file("logits.pt") + " " +
                                      peer().file("b0_64_torchvision.logits.pt"));
  INFO(peer_check.err);
  REQUIRE(peer_check.exit_status == 0);
  // The first input's top classes, in order, are the peer's.
  const std::string first = peer_check.out.substr(0, peer_check.out.find(','));
  CHECK(result.out.find(",1," + first + ",") != std::string::npos);
}

TEST_CASE("predict classifies JPEG and PNG images", "[apps][predict]") {
  TempDir dir;
  std::vector<uint8_t> pixels(3 * 50 * 40);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 7 % 251);
  write_png(dir.file("a.png"), 50, 40, pixels);
  write_jpeg(dir.file("b.jpg"), 50, 40, pixels);
  const auto result = run_command(predict("--model b0 --weights-format torchvision --resolution 64 --weights " +
                                          weights() + " --topk 2 --format csv " + dir.file("a.png") + " " + dir.file("b.jpg")));
  INFO(result.err);
  REQUIRE(result.exit_status == 0);
  CHECK(result.out.find("a.png,1,") != std::string::npos);
  CHECK(result.out.find("b.jpg,2,") != std::string::npos);
}

TEST_CASE("predict rejects bad input with one line and no output file", "[apps][predict][errors]") {
  TempDir dir;
  const std::string out = dir.file("out.pt");
  const std::string tensor = peer().file("b0_64_torchvision.input.pt");
  SECTION("not a weights file") {
    const auto path = dir.write("w.pth", "plain text");
    check_one_line_error(run_command(predict("--model b0 --weights " + path + " --input " + tensor + " --output " + out)),
                         "w.pth");
  }
  SECTION("weights of another model") {
    check_one_line_error(run_command(predict("--model b2 --weights " + weights() + " --input " + tensor + " --output " + out)),
                         "mis-shaped");
  }
  SECTION("an image that does not decode") {
    const auto path = dir.write("broken.jpg", std::string("\xff\xd8\xff\xe0") + " not really a jpeg");
    check_one_line_error(run_command(predict("--model b0 --weights " + weights() + " --input " + path + " --output " + out)),
                         "broken.jpg");
  }
  SECTION("a tensor of the wrong rank") {
    const std::string input = saved_tensor(dir, "rank3.pt", "torch.zeros(3, 8, 8)");
    check_one_line_error(run_command(predict("--model b0 --weights " + weights() + " --input " + input + " --output " + out)),
                         "rank 3");
  }
  SECTION("a tensor without pixels") {
    const std::string input = saved_tensor(dir, "empty.pt", "torch.zeros(1, 3, 0, 5)");
    check_one_line_error(run_command(predict("--model b0 --weights " + weights() + " --input " + input + " --output " + out)),
                         "tensor of 1 x 3 x 0 x 5 holds no pixel");
  }
  SECTION("a directory as the input") {
    check_one_line_error(run_command(predict("--model b0 --weights " + weights() + " --input " + dir.file("") + " --output " + out)),
                         "it is a directory");
  }
  SECTION("a FIFO as the weights or the input (reading it would block)") {
    const std::string fifo = dir.file("pipe");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    check_one_line_error(run_command(predict("--model b0 --weights " + fifo + " --input " + tensor + " --output " + out)),
                         "not a regular file");
    check_one_line_error(run_command(predict("--model b0 --weights " + weights() + " --input " + fifo + " --output " + out)),
                         "not a regular file");
  }
  SECTION("an unknown weights format") {
    check_one_line_error(run_command(predict("--model b0 --weights-format keras --weights " + weights() + " --input " +
                                             tensor + " --output " + out)),
                         "keras");
  }
  CHECK_FALSE(std::filesystem::exists(out));
}

TEST_CASE("a run trained on a folder dataset keeps its class names, and predict prints them", "[apps][predict][classes]") {
  TempDir dir;
  for (const std::string split : {"train", "val"})
    for (const std::string cls : {"cat", "dog"})
      for (int i = 0; i < (split == "train" ? 8 : 3); ++i) {
        std::filesystem::create_directories(dir.file("pets/" + split + "/" + cls));
        write_png(dir.file("pets/" + split + "/" + cls + "/" + std::to_string(i) + ".png"), 20, 20,
                  pattern_bytes(20 * 20 * 3, uint32_t(i + (cls == "dog" ? 100 : 0))));
      }
  const auto trained = run_command(std::string(EFFSCALE_TRAIN_MODEL) + " --model b0 --width-mult 0.25 --depth-mult 0.25" +
                                   " --resolution 16 --dataset folder --data-dir " + shell_quote(dir.file("pets")) +
                                   " --epochs 1 --batch-size 4 --threads 1 --output-dir " + shell_quote(dir.file("run")));
  INFO(trained.err);
  REQUIRE(trained.exit_status == 0);
  CHECK(read_file(dir.file("run/classes.json")) == "[\n \"cat\",\n \"dog\"\n]\n");
  const std::string model = " --model " + shell_quote(dir.file("run/spec.json")) + " --weights " + shell_quote(dir.file("run/weights.pth"));
  const std::string image = " " + shell_quote(dir.file("pets/val/dog/0.png"));
  const auto named = run_command(predict(model + " --topk 2 --format csv" + image));
  INFO(named.err);
  REQUIRE(named.exit_status == 0);
  CHECK(named.out.rfind("input,rank,class,probability,logit,name\n", 0) == 0);
  CHECK(named.out.find(",cat\n") != std::string::npos);
  CHECK(named.out.find(",dog\n") != std::string::npos);
  // A class map of one's own (one name per line) replaces them; one that names too few classes is refused.
  dir.write("names.txt", "tabby\nbeagle\n");
  const auto mapped = run_command(predict(model + " --topk 2 --format csv --class-map " + shell_quote(dir.file("names.txt")) + image));
  CHECK(mapped.out.find(",beagle\n") != std::string::npos);
  dir.write("short.txt", "tabby\n");
  const auto short_map = run_command(predict(model + " --class-map " + shell_quote(dir.file("short.txt")) + image));
  CHECK(short_map.exit_status == 2);
  CHECK(short_map.err.find("names 1 classes, the model has 2") != std::string::npos);
}
