# Finds every external library effscale links. LibTorch comes from Debian's libtorch-dev by default;
# point Torch_DIR or CMAKE_PREFIX_PATH at another LibTorch (for example the one inside a CUDA PyTorch:
# python3 -c 'import torch; print(torch.utils.cmake_prefix_path)').
find_package(Torch REQUIRED)
find_package(Boost 1.71 REQUIRED COMPONENTS program_options)
find_package(TBB REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)  # libpq: studies shared by several hosts
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(JPEG REQUIRED)
find_package(PNG REQUIRED)
if(EFFSCALE_BUILD_TESTS)
  find_package(Catch2 2.13 REQUIRED)
  list(APPEND CMAKE_MODULE_PATH ${Catch2_DIR})  # Catch.cmake: catch_discover_tests
endif()

# One target that carries LibTorch's libraries and compile flags.
add_library(effscale_torch INTERFACE)
target_link_libraries(effscale_torch INTERFACE ${TORCH_LIBRARIES})
effscale_library(effscale_torch torch_libraries)

# LibTorch's CPU ops share their work among OpenMP threads (Debian's LibTorch: GNU libgomp), and so do effscale's
# own kernels, through at::parallel_for. That is a header template: it runs in parallel only in a file compiled with
# OpenMP; elsewhere it runs the whole range on the calling thread, whatever the thread count (as every effscale
# kernel did until 2026-12-02). With GCC every file is compiled with -fopenmp and links the libgomp LibTorch runs
# on. Clang's -fopenmp would bring a second runtime (libomp) beside LibTorch's, so a clang build (the sanitizer
# build) and -DEFFSCALE_OPENMP=OFF keep the kernels on one thread.
option(EFFSCALE_OPENMP "Compile effscale's kernels with OpenMP (GCC), so that they share work among LibTorch's threads" ON)
set(EFFSCALE_HAVE_OPENMP OFF)
if(EFFSCALE_OPENMP AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  find_package(OpenMP REQUIRED COMPONENTS CXX)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:${OpenMP_CXX_FLAGS}>)
  target_link_libraries(effscale_torch INTERFACE ${OpenMP_CXX_LIBRARIES})
  set(EFFSCALE_HAVE_OPENMP ON)
  message(STATUS "effscale: kernels share work among OpenMP threads (${OpenMP_CXX_FLAGS}, ${OpenMP_CXX_LIBRARIES})")
else()
  message(STATUS "effscale: kernels built without OpenMP: each runs on the calling thread")
endif()

# Gloo's headers (Debian: libgloo-dev; LibTorch links Gloo itself) let the trainers join a data-parallel
# group through c10d's ProcessGroupGloo. Without them effscale still builds, and refuses WORLD_SIZE > 1 with
# a message that says so.
find_path(EFFSCALE_GLOO_INCLUDE_DIR gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS})
if(EFFSCALE_GLOO_INCLUDE_DIR)
  message(STATUS "effscale: data-parallel training through c10d Gloo (headers in ${EFFSCALE_GLOO_INCLUDE_DIR})")
else()
  message(STATUS "effscale: no Gloo headers found; data-parallel training (WORLD_SIZE > 1) is off")
endif()

# oneDNN's headers (Debian: libdnnl-dev) let the inference form call the oneDNN library Debian's LibTorch links
# (libdnnl.so.2) directly: convolutions with prepacked weights and fused activations (models/onednn_plan.h).
# Without them, or with -DEFFSCALE_ONEDNN=OFF (say, for a LibTorch that carries its own oneDNN inside), the
# inference form runs LibTorch's ops.
option(EFFSCALE_ONEDNN "Run the CPU inference form through oneDNN when its headers are found" ON)
find_path(EFFSCALE_ONEDNN_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(EFFSCALE_ONEDNN_LIBRARY dnnl)
if(EFFSCALE_ONEDNN AND EFFSCALE_ONEDNN_INCLUDE_DIR AND EFFSCALE_ONEDNN_LIBRARY)
  set(EFFSCALE_HAVE_ONEDNN ON)
  add_library(effscale_onednn INTERFACE)
  target_include_directories(effscale_onednn SYSTEM INTERFACE ${EFFSCALE_ONEDNN_INCLUDE_DIR})
  target_link_libraries(effscale_onednn INTERFACE ${EFFSCALE_ONEDNN_LIBRARY})
  effscale_library(effscale_onednn onednn)
  message(STATUS "effscale: CPU inference through oneDNN (${EFFSCALE_ONEDNN_LIBRARY})")
else()
  set(EFFSCALE_HAVE_ONEDNN OFF)
  message(STATUS "effscale: CPU inference through LibTorch's ops (oneDNN headers not found or EFFSCALE_ONEDNN=OFF)")
endif()
