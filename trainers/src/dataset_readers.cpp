#include "effscale/trainers/dataset_readers.h"

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace effscale::trainers {
namespace {

namespace fs = std::filesystem;

// Opens a plain or gzip-compressed file for gzread (which reads either).
gzFile open_maybe_gzip(const std::string& path) {
  if (!fs::is_regular_file(path)) throw DataError("cannot read '" + path + "': no such file");
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw DataError("cannot open '" + path + "'");
  return file;
}

// The whole (gunzipped when compressed) contents of a file, refused once it passes `limit` bytes (`why` says whose
// limit): memory grows with what the file really holds, never with what it claims.
std::vector<uint8_t> read_maybe_gzip(const std::string& path, uint64_t limit = kMaxDatasetFileBytes,
                                     const std::string& why = "effscale's limit for a dataset file") {
  gzFile file = open_maybe_gzip(path);
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> buffer(1 << 16);
  int n = 0;
  while ((n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
    bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + n);
    if (bytes.size() > limit) {
      gzclose(file);
      throw DataError("'" + path + "' holds more than " + std::to_string(limit) + " bytes once decompressed (" + why +
                      "): corrupt, or a decompression bomb");
    }
  }
  int error = Z_OK;
  const std::string message = n < 0 ? gzerror(file, &error) : "";
  gzclose(file);
  if (n < 0) throw DataError("'" + path + "' is corrupt: " + message);
  return bytes;
}

uint32_t big_endian(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | uint32_t(b[at + 3]);
}

// Checks an IDX file of unsigned bytes with `dims` dimensions and returns its shape.
std::vector<int64_t> idx_shape(const std::vector<uint8_t>& b, const std::string& path, int dims) {
  const uint32_t magic = 0x800u + static_cast<uint32_t>(dims);
  if (b.size() < 4 + 4 * size_t(dims) || big_endian(b, 0) != magic)
    throw DataError("'" + path + "' is not an IDX file of " + std::to_string(dims) + "-D unsigned bytes (magic " +
                    std::to_string(magic) + " expected)");
  std::vector<int64_t> shape;
  uint64_t count = 1;
  bool overflow = false;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(big_endian(b, 4 + 4 * d));
    overflow = overflow || __builtin_mul_overflow(count, static_cast<uint64_t>(shape.back()), &count);
  }
  if (overflow)  // dimensions whose product wraps around could otherwise match the file's size
    throw DataError("'" + path + "': the IDX header's dimensions multiply past 2^64 bytes (corrupt)");
  const uint64_t expected = 4 + 4 * uint64_t(dims) + count;
  if (b.size() != expected || expected < count)
    throw DataError("'" + path + "': the IDX header promises " + std::to_string(expected) + " bytes, the file has " +
                    std::to_string(b.size()) + " (truncated or corrupt)");
  return shape;
}

// The size an IDX file of `dims` dimensions promises in its header (at most kMaxDatasetFileBytes; a header that
// cannot be read leaves the check to idx_shape).
uint64_t idx_promised_bytes(const std::string& path, int dims) {
  gzFile file = open_maybe_gzip(path);
  std::vector<uint8_t> header(4 + 4 * size_t(dims));
  const int n = gzread(file, header.data(), static_cast<unsigned>(header.size()));
  gzclose(file);
  if (n != static_cast<int>(header.size())) return kMaxDatasetFileBytes;
  uint64_t count = 1;
  for (int d = 0; d < dims; ++d)
    if (__builtin_mul_overflow(count, uint64_t(big_endian(header, 4 + 4 * size_t(d))), &count)) return kMaxDatasetFileBytes;
  const uint64_t total = header.size() + count;
  return total < count || total > kMaxDatasetFileBytes ? kMaxDatasetFileBytes : total;
}

// An IDX file's contents, refused once they pass what its header promises.
std::vector<uint8_t> read_idx_bytes(const std::string& path, int dims) {
  const uint64_t promised = idx_promised_bytes(path, dims);
  return read_maybe_gzip(path, promised, "its IDX header promises " + std::to_string(promised));
}

torch::Tensor bytes_to_tensor(const std::vector<uint8_t>& b, size_t offset, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<uint8_t*>(b.data() + offset), shape, torch::kUInt8).clone();
}

std::string existing(const fs::path& dir, const std::string& stem) {
  for (const std::string& candidate : {stem + ".gz", stem})
    if (fs::exists(dir / candidate)) return (dir / candidate).string();
  throw DataError("dataset folder '" + dir.string() + "' has no " + stem + "[.gz]");
}

DatasetFiles load_idx_pair(const fs::path& dir) {
  DatasetFiles files;
  files.train = read_idx_dataset(existing(dir, "train-images-idx3-ubyte"), existing(dir, "train-labels-idx1-ubyte"), 10);
  files.test = read_idx_dataset(existing(dir, "t10k-images-idx3-ubyte"), existing(dir, "t10k-labels-idx1-ubyte"), 10);
  return files;
}

}  // namespace

ImageDataset read_idx_dataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes) {
  const std::vector<uint8_t> image_bytes = read_idx_bytes(images_path, 3);
  const std::vector<uint8_t> label_bytes = read_idx_bytes(labels_path, 1);
  const std::vector<int64_t> shape = idx_shape(image_bytes, images_path, 3);
  const std::vector<int64_t> label_shape = idx_shape(label_bytes, labels_path, 1);
  if (label_shape[0] != shape[0])
    throw DataError("'" + labels_path + "' has " + std::to_string(label_shape[0]) + " labels for " +
                    std::to_string(shape[0]) + " images in '" + images_path + "'");
  if (shape[0] == 0) throw DataError("'" + images_path + "' holds no images");
  ImageDataset data;
  data.name = images_path;
  data.images = bytes_to_tensor(image_bytes, 16, {shape[0], 1, shape[1], shape[2]});
  data.labels = bytes_to_tensor(label_bytes, 8, {shape[0]}).to(torch::kLong);
  const int64_t max_label = data.labels.max().item<int64_t>();
  data.num_classes = num_classes > 0 ? num_classes : max_label + 1;
  if (max_label >= data.num_classes)
    throw DataError("'" + labels_path + "' has label " + std::to_string(max_label) + ", expected below " +
                    std::to_string(data.num_classes));
  return data;
}

ImageDataset read_cifar_batches(const std::vector<std::string>& paths, int cifar_classes) {
  if (cifar_classes != 10 && cifar_classes != 100) throw DataError("CIFAR has 10 or 100 classes");
  const size_t label_bytes = cifar_classes == 10 ? 1 : 2, record = label_bytes + 3072;
  std::vector<torch::Tensor> images, labels;
  for (const std::string& path : paths) {
    const std::vector<uint8_t> b = read_maybe_gzip(path);
    if (b.empty() || b.size() % record != 0)
      throw DataError("'" + path + "' is not CIFAR-" + std::to_string(cifar_classes) + " binary: " +
                      std::to_string(b.size()) + " bytes is not a whole number of " + std::to_string(record) +
                      "-byte records");
    const auto n = static_cast<int64_t>(b.size() / record);
    torch::Tensor all = bytes_to_tensor(b, 0, {n, static_cast<int64_t>(record)});
    labels.push_back(all.select(1, static_cast<int64_t>(label_bytes) - 1).to(torch::kLong));
    images.push_back(all.slice(1, static_cast<int64_t>(label_bytes)).reshape({n, 3, 32, 32}));
    if (labels.back().max().item<int64_t>() >= cifar_classes)
      throw DataError("'" + path + "' has a label outside 0.." + std::to_string(cifar_classes - 1));
  }
  ImageDataset data;
  data.name = paths.empty() ? "" : paths.front();
  data.images = torch::cat(images).contiguous();
  data.labels = torch::cat(labels);
  data.num_classes = cifar_classes;
  return data;
}

ImageDataset read_image_folder(const std::string& root) {
  if (!fs::is_directory(root)) throw DataError("image folder '" + root + "' does not exist");
  std::vector<std::string> classes;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) classes.push_back(entry.path().filename().string());
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) throw DataError("image folder '" + root + "' has no class folders (expected ROOT/CLASS/*.jpg)");
  ImageDataset data;
  data.name = root;
  std::vector<int64_t> labels;
  for (size_t c = 0; c < classes.size(); ++c) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(fs::path(root) / classes[c])) {
      std::string ext = entry.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) files.push_back(entry.path().string());
    }
    if (files.empty()) throw DataError("class folder '" + (fs::path(root) / classes[c]).string() + "' holds no .jpg or .png image");
    std::sort(files.begin(), files.end());
    data.files.insert(data.files.end(), files.begin(), files.end());
    labels.insert(labels.end(), files.size(), static_cast<int64_t>(c));
  }
  data.labels = torch::tensor(labels, torch::kLong);
  data.class_names = classes;
  data.num_classes = static_cast<int64_t>(classes.size());
  return data;
}

std::vector<std::string> named_datasets() { return {"fashion-mnist", "mnist", "cifar10", "cifar100", "folder"}; }

std::string default_data_dir(const std::string& name) {
  return name == "fashion-mnist" ? "/usr/share/datasets/fashion-mnist" : "";
}

DatasetFiles load_named_dataset(const std::string& name, const std::string& dir_arg) {
  const std::string dir = dir_arg.empty() ? default_data_dir(name) : dir_arg;
  bool known = false;
  for (const std::string& n : named_datasets()) known = known || n == name;
  if (!known) throw DataError("unknown dataset '" + name + "': expected fashion-mnist, mnist, cifar10, cifar100 or folder");
  if (dir.empty()) throw DataError("dataset '" + name + "' needs a data folder (it has no default location)");
  if (!fs::is_directory(dir)) throw DataError("dataset folder '" + dir + "' does not exist");
  if (name == "fashion-mnist" || name == "mnist") return load_idx_pair(dir);
  const fs::path d(dir);
  DatasetFiles files;
  if (name == "folder") {
    const fs::path test = fs::is_directory(d / "val") ? d / "val" : d / "test";
    if (!fs::is_directory(d / "train") || !fs::is_directory(test))
      throw DataError("image dataset '" + dir + "' needs train/ and val/ (or test/) folders of class folders");
    files.train = read_image_folder((d / "train").string());
    files.test = read_image_folder(test.string());
    if (files.test.class_names != files.train.class_names)
      throw DataError("image dataset '" + dir + "': " + test.filename().string() + "/ has other class folders than train/");
    return files;
  }
  if (name == "cifar10") {
    std::vector<std::string> train;
    for (int i = 1; i <= 5; ++i) train.push_back(existing(d, "data_batch_" + std::to_string(i) + ".bin"));
    files.train = read_cifar_batches(train, 10);
    files.test = read_cifar_batches({existing(d, "test_batch.bin")}, 10);
  } else {
    files.train = read_cifar_batches({existing(d, "train.bin")}, 100);
    files.test = read_cifar_batches({existing(d, "test.bin")}, 100);
  }
  return files;
}

}  // namespace effscale::trainers
