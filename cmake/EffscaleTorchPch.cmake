# effscale_torch_pch(TARGET): gives TARGET the project's one precompiled header for <torch/torch.h>.
# effscale_modules builds it; every other target that includes torch reuses that file (REUSE_FROM), so a fresh
# build makes one torch PCH, about 45-60 s of one core, instead of one per target (ten of them took 476 s of the
# 2,400 s a fresh build compiled on the 2-core VM, 2026-12-02). Reuse needs the same compiler flags, which the
# build type sets for all targets alike, and at least the host's macro definitions: targets may add their own
# (test paths, Boost's link flags: macros the torch headers never read) but must not drop torch's.
function(effscale_torch_pch target)
  if(EFFSCALE_NO_PCH)
    return()
  endif()
  if(target STREQUAL "effscale_modules")
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  else()
    target_precompile_headers(${target} REUSE_FROM effscale_modules)
  endif()
endfunction()
