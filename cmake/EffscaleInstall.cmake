# What `cmake --install` puts where (GNU layout under the prefix):
#   lib/libeffscale_*.a                     the libraries
#   include/effscale/...                    their public headers
#   lib/cmake/effscale/                     the CMake package: find_package(effscale CONFIG) -> effscale::models,
#                                           effscale::store, effscale::trainers, effscale::search, effscale::scaling
#   lib/pkgconfig/effscale.pc               the same libraries for pkg-config
#   bin/effscale                            the one front command on the PATH
#   libexec/effscale/<tool>                 the tools it runs (kept off the PATH: names like `predict` would collide)
#   share/effscale/presets, share/effscale/python
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
# Installed tools keep the run path to libraries outside the system folders (a LibTorch unpacked or inside a
# Python environment), so they run without LD_LIBRARY_PATH.
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)

set(EFFSCALE_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/effscale)
set(EFFSCALE_TOOL_DIR ${CMAKE_INSTALL_LIBEXECDIR}/effscale)

# effscale_public_headers(TARGET DIR): DIR (holding effscale/...) is TARGET's public include folder in the build
# tree, and its contents install into include/.
function(effscale_public_headers target dir)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${dir}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# effscale_library(TARGET NAME): TARGET installs as a library exported as effscale::NAME; a library with code also
# goes into effscale.pc (declared after what it needs, so the reversed order links).
function(effscale_library target name)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    set_property(GLOBAL PROPERTY EFFSCALE_PC_LIBS " -l${target}" APPEND_STRING)
  endif()
  install(TARGETS ${target} EXPORT effscaleTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()

# effscale_tool(TARGET): a command the front command `effscale` runs; installs into libexec/effscale.
function(effscale_tool target)
  install(TARGETS ${target} RUNTIME DESTINATION ${EFFSCALE_TOOL_DIR})
endfunction()

# effscale_install_package(): the CMake package and pkg-config file for every library declared above.
function(effscale_install_package)
  install(EXPORT effscaleTargets NAMESPACE effscale:: DESTINATION ${EFFSCALE_PACKAGE_DIR})
  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/effscaleConfig.cmake.in
    ${PROJECT_BINARY_DIR}/effscaleConfig.cmake INSTALL_DESTINATION ${EFFSCALE_PACKAGE_DIR})
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/effscaleConfigVersion.cmake COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/effscaleConfig.cmake ${PROJECT_BINARY_DIR}/effscaleConfigVersion.cmake
    DESTINATION ${EFFSCALE_PACKAGE_DIR})
  effscale_install_pkg_config()
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/experiments/presets/ DESTINATION ${CMAKE_INSTALL_DATADIR}/effscale/presets)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/effscale DESTINATION ${CMAKE_INSTALL_DATADIR}/effscale/python
    PATTERN __pycache__ EXCLUDE)
endfunction()

# effscale.pc: the libraries in link order, the dependencies that have pkg-config files as Requires, and
# LibTorch (which has none) by its include folders and library files.
function(effscale_install_pkg_config)
  set(torch_libs "")
  foreach(t torch torch_cpu torch_cuda c10 c10_cuda)
    if(TARGET ${t})
      string(APPEND torch_libs " $<TARGET_LINKER_FILE:${t}>")
    endif()
  endforeach()
  if(EFFSCALE_HAVE_ONEDNN)  # the inference form's plans call oneDNN (the library LibTorch links) directly
    string(APPEND torch_libs " ${EFFSCALE_ONEDNN_LIBRARY}")
  endif()
  if(EFFSCALE_HAVE_OPENMP)  # the kernels' parallel regions call the libgomp LibTorch runs on
    foreach(l ${OpenMP_CXX_LIBRARIES})
      string(APPEND torch_libs " ${l}")
    endforeach()
  endif()
  set(torch_cflags "")
  foreach(d ${TORCH_INCLUDE_DIRS})
    if(NOT d IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)  # -I/usr/include breaks libstdc++'s #include_next
      string(APPEND torch_cflags " -I${d}")
    endif()
  endforeach()
  get_property(declared GLOBAL PROPERTY EFFSCALE_PC_LIBS)
  string(REGEX MATCHALL "-l[a-z_]+" declared "${declared}")
  list(REVERSE declared)  # dependents before what they need
  string(REPLACE ";" " " effscale_libs "${declared}")
  file(RELATIVE_PATH pc_to_prefix /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)  # relocatable: the prefix from the file
  string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
  get_target_property(torch_options torch INTERFACE_COMPILE_OPTIONS)
  foreach(o ${torch_options})
    if(o MATCHES "^-D")
      string(APPEND torch_cflags " ${o}")
    endif()
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/effscale.pc.in ${PROJECT_BINARY_DIR}/effscale.pc.gen @ONLY)
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/effscale.pc INPUT ${PROJECT_BINARY_DIR}/effscale.pc.gen)
  install(FILES ${PROJECT_BINARY_DIR}/effscale.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()
