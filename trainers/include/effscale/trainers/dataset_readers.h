#pragma once
// Readers for the dataset file formats effscale trains on. Each throws DataError naming the file on a
// missing, truncated or inconsistent file; none skips bad data silently.

#include <stdexcept>
#include <string>
#include <vector>

#include "effscale/trainers/image_dataset.h"

namespace effscale::trainers {

// The most bytes a dataset file (IDX, CIFAR batch) may hold once decompressed: 8 GiB. A file past it, or an IDX
// file past what its header promises, is refused as it is read (DataError), never allocated at a claimed size.
inline constexpr uint64_t kMaxDatasetFileBytes = uint64_t(8) << 30;

// A dataset file or folder that cannot be used. Apps map it to exit status 2.
class DataError : public std::invalid_argument {
 public:
  explicit DataError(const std::string& message) : std::invalid_argument(message) {}
};

// Reads an IDX image file (magic 0x00000803, uint8 [N, H, W]) and its IDX label file (0x00000801,
// uint8 [N]), gzip-compressed or plain. Images come out [N, 1, H, W]; num_classes is max(label) + 1 or
// `num_classes` when given (> 0), and a label outside it is an error.
ImageDataset read_idx_dataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes = 0);

// Reads CIFAR binary batches: CIFAR-10 records are 1 label byte + 3072 image bytes (3 x 32 x 32, plane
// by plane); CIFAR-100 records carry a coarse and a fine label byte first (the fine one is used, 100
// classes). A file whose size is not a whole number of records is an error.
ImageDataset read_cifar_batches(const std::vector<std::string>& paths, int cifar_classes);

// An ImageNet-style folder: root/CLASS/*.{jpg,jpeg,png} (any case), classes sorted by folder name, files
// sorted by name. Images are decoded when batches need them. Throws DataError naming the folder when it
// does not exist, has no class folders, or a class folder holds no image.
ImageDataset read_image_folder(const std::string& root);

// The train and test sets of a named dataset.
struct DatasetFiles {
  ImageDataset train;
  ImageDataset test;
};

// Loads "fashion-mnist" or "mnist" (IDX files train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-*), "cifar10" (data_batch_1..5.bin, test_batch.bin) or "cifar100" (train.bin, test.bin) from
// `dir`, or "folder" (dir/train/CLASS/*.jpg and dir/val/CLASS/*.jpg, or dir/test/...); an empty dir means
// the default: /usr/share/datasets/fashion-mnist for fashion-mnist (Debian's dataset-fashion-mnist).
// Throws DataError for an unknown name, a missing directory or file.
DatasetFiles load_named_dataset(const std::string& name, const std::string& dir);

// The dataset names load_named_dataset knows.
std::vector<std::string> named_datasets();

// Where a named dataset lives when no folder is given: Debian's folder for "fashion-mnist", "" for every other.
std::string default_data_dir(const std::string& name);

}  // namespace effscale::trainers
