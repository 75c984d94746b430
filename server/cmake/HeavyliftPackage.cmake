# Makes this build tree a CMake package: heavylift::core, heavylift::proto and
# heavylift::main as aliases here and as exported targets in
# <build>/heavylift-config.cmake, for find_package(heavylift PATHS <build>).
# Included at the end of server/CMakeLists.txt.

set(HEAVYLIFT_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(heavylift_main STATIC ${CMAKE_CURRENT_SOURCE_DIR}/src/app/main.cc)
target_compile_options(heavylift_main PRIVATE ${HEAVYLIFT_WARNINGS})
target_link_libraries(heavylift_main PUBLIC heavylift_core)
if(HEAVYLIFT_SANITIZE)
  target_compile_options(heavylift_main PRIVATE ${HEAVYLIFT_SANITIZER_FLAGS})
endif()
# Built with the daemon, so every tree that has a daemon can build custom ones.
add_dependencies(heavylift heavylift_main)
set_target_properties(heavylift_core PROPERTIES EXPORT_NAME core)
set_target_properties(heavylift_proto PROPERTIES EXPORT_NAME proto)
set_target_properties(heavylift_main PROPERTIES EXPORT_NAME main)
add_library(heavylift::core ALIAS heavylift_core)
add_library(heavylift::proto ALIAS heavylift_proto)
add_library(heavylift::main ALIAS heavylift_main)

include(${CMAKE_CURRENT_LIST_DIR}/HeavyliftTasks.cmake)

# Writes the package files once the whole directory is processed, so that
# libraries linked into heavylift_core anywhere in CMakeLists.txt are found
# again by the consumer: pkg-config modules by their module names, other
# packages by their target namespace.
function(heavylift_write_package)
  set(dependencies "")
  set(seen "")
  foreach(target heavylift_core heavylift_proto)
    get_target_property(libraries ${target} INTERFACE_LINK_LIBRARIES)
    foreach(library IN LISTS libraries)
      if(NOT library MATCHES "^([A-Za-z0-9_]+)::([A-Za-z0-9_.+-]+)$" OR library IN_LIST seen)
        continue()
      endif()
      list(APPEND seen ${library})
      set(namespace ${CMAKE_MATCH_1})
      set(prefix ${CMAKE_MATCH_2})
      if(namespace STREQUAL "heavylift")
        continue()
      elseif(namespace STREQUAL "PkgConfig")
        # pkg-config sets <prefix>_MODULE_NAME only for a single module; a
        # target made from several lists them in <prefix>_MODULES.
        set(modules ${${prefix}_MODULE_NAME})
        if(DEFINED ${prefix}_MODULES)
          set(modules ${${prefix}_MODULES})
        endif()
        list(JOIN modules " " modules)
        string(APPEND dependencies
          "if(NOT TARGET ${library})\n  pkg_check_modules(${prefix} REQUIRED IMPORTED_TARGET ${modules})\nendif()\n")
      elseif(namespace STREQUAL "protobuf")
        string(APPEND dependencies "find_dependency(Protobuf)\n")
      else()
        string(APPEND dependencies "find_dependency(${namespace})\n")
      endif()
    endforeach()
  endforeach()
  set(HEAVYLIFT_PACKAGE_DEPENDENCIES ${dependencies})
  export(TARGETS heavylift_core heavylift_proto heavylift_main NAMESPACE heavylift::
         FILE ${CMAKE_CURRENT_BINARY_DIR}/heavylift-targets.cmake)
  configure_file(${HEAVYLIFT_CMAKE_DIR}/heavylift-config.cmake.in
                 ${CMAKE_CURRENT_BINARY_DIR}/heavylift-config.cmake @ONLY)
endfunction()
cmake_language(DEFER CALL heavylift_write_package)
