// IDX image files, plain or gzip (the input is the images file; given as the labels file too, it is refused there
// once the images header, the decompression and its limits have run), and CIFAR-10 binary batches.
#include "effscale/trainers/dataset_readers.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = effscale::fuzz::input_file(data, size, ".idx");
  effscale::fuzz::refuses_or_reads([&] { effscale::trainers::read_idx_dataset(path, path); });
  return effscale::fuzz::refuses_or_reads([&] { effscale::trainers::read_cifar_batches({path}, 10); });
}
