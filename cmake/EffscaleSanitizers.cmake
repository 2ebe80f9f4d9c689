# EFFSCALE_SANITIZE: a comma-separated list of sanitizers to build everything with, as GCC and Clang name them
# (-DEFFSCALE_SANITIZE=address,undefined). Empty (the default): none. Undefined behaviour stops the program
# (-fno-sanitize-recover), so a test that hits it fails instead of printing and passing.
set(EFFSCALE_SANITIZE "" CACHE STRING "sanitizers to build with, comma-separated (address, undefined, leak, thread)")
if(EFFSCALE_SANITIZE)
  string(REPLACE "," ";" effscale_sanitizers "${EFFSCALE_SANITIZE}")
  foreach(sanitizer IN LISTS effscale_sanitizers)
    if(NOT sanitizer MATCHES "^(address|undefined|leak|thread)$")
      message(FATAL_ERROR "EFFSCALE_SANITIZE: unknown sanitizer '${sanitizer}' (expected address, undefined, leak or thread)")
    endif()
  endforeach()
  set(effscale_sanitize_flags -fsanitize=${EFFSCALE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${effscale_sanitize_flags})
  add_link_options(${effscale_sanitize_flags})
  message(STATUS "effscale: building with -fsanitize=${EFFSCALE_SANITIZE}")
endif()
