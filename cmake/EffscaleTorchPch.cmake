# effscale_torch_pch(TARGET): gives TARGET a precompiled header for <torch/torch.h>.
# Only the few targets that include torch headers call this; CMake builds one PCH per target.
function(effscale_torch_pch target)
  if(NOT EFFSCALE_NO_PCH)
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  endif()
endfunction()
