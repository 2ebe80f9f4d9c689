# Uses ccache for every compile when it is installed (torch translation units are slow to build).
find_program(EFFSCALE_CCACHE ccache)
if(EFFSCALE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${EFFSCALE_CCACHE})
  # Precompiled headers change only when torch changes; let ccache reuse objects built with them.
  set(ENV{CCACHE_SLOPPINESS} "pch_defines,time_macros,include_file_mtime,include_file_ctime")
endif()
