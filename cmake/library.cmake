# libhalograph: the installed C library (issue 17), included from the
# top-level CMakeLists.txt after the layer libraries are defined.
#
#   halograph_shared  libhalograph.so  exports only the halograph_* API
#                     (cmake/halograph.map); the layers are linked in
#   halograph_static  libhalograph.a   api/*.c plus every object of the layers;
#                     the CLI links it (CMakeLists.txt)
#
# `cmake --install build --prefix P` (no option needed) installs
#   P/bin/halograph                         the CLI
#   P/include/halograph.h                   the one public header
#   P/lib/libhalograph.so, P/lib/libhalograph.a
#   P/lib/pkgconfig/halograph.pc            pkg-config --cflags --libs halograph
#   P/lib/pkgconfig/halograph-static.pc     ... halograph-static (links libhalograph.a)
#   P/lib/cmake/halograph/                  find_package(halograph): halograph::halograph
#                                           (shared) and halograph::halograph_static
#   P/lib/python3/dist-packages/halograph/  the Python module (ctypes over the .so)

# The fuzz build (clang, -fsanitize=fuzzer-no-link) builds only the fuzzers.
if(HG_FUZZ)
  return()
endif()

# The shared library links the static layers: their objects must be PIC.
foreach(layer ${HG_LAYERS})
  set_target_properties(hg_${layer} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endforeach()

file(GLOB HG_API_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/api/*.c)

add_library(halograph_shared SHARED ${HG_API_SOURCES})
target_link_libraries(halograph_shared PRIVATE hgcore)
target_link_options(halograph_shared PRIVATE
  "-Wl,--version-script=${CMAKE_SOURCE_DIR}/cmake/halograph.map" "-Wl,--no-undefined")
set_target_properties(halograph_shared PROPERTIES
  OUTPUT_NAME halograph VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/cmake/halograph.map
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)

set(HG_LAYER_OBJECTS "")
foreach(layer ${HG_LAYERS})
  list(APPEND HG_LAYER_OBJECTS $<TARGET_OBJECTS:hg_${layer}>)
endforeach()
add_library(halograph_static STATIC ${HG_API_SOURCES} ${HG_LAYER_OBJECTS})
# Not hgcore: libhalograph.a holds every layer object itself, so whatever
# links it (the CLI) takes them from here and no hg_<layer> archive is on
# its link line. The include directories and HG_VERSION are the layers'
# (the CLI includes their internal headers); hg_deps the external libraries.
target_include_directories(halograph_static PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/gen)
target_compile_definitions(halograph_static PUBLIC HG_VERSION="${PROJECT_VERSION}")
target_link_libraries(halograph_static PUBLIC hg_deps m)
set_target_properties(halograph_static PROPERTIES OUTPUT_NAME halograph
  ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)

# The external libraries a static link needs (pkg-config Libs.private and the
# static imported target of the package config): absolute paths.
set(HG_PRIVATE_LIBS ${HG_LLVM_LIB} ${HG_DNNL_LIB} ${HG_HDF5_LINK_LIBRARIES} ${HG_YAML_LINK_LIBRARIES}
    ${HG_PBC_LINK_LIBRARIES} ${OpenMP_C_LIBRARIES} m)
if(HG_MPI AND MPI_C_FOUND)
  list(APPEND HG_PRIVATE_LIBS ${MPI_C_LIBRARIES}) # runtime/comm.c (cmake/deps.cmake)
endif()
list(REMOVE_DUPLICATES HG_PRIVATE_LIBS)
set(HG_PC_LIBS_PRIVATE "")
foreach(l ${HG_PRIVATE_LIBS})
  if(l STREQUAL "m")
    string(APPEND HG_PC_LIBS_PRIVATE " -lm")
  else()
    string(APPEND HG_PC_LIBS_PRIVATE " ${l}")
  endif()
endforeach()
string(APPEND HG_PC_LIBS_PRIVATE " ${OpenMP_C_FLAGS}")

configure_file(${CMAKE_SOURCE_DIR}/cmake/halograph.pc.in ${CMAKE_BINARY_DIR}/halograph.pc @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/cmake/halograph-static.pc.in ${CMAKE_BINARY_DIR}/halograph-static.pc @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/cmake/halographConfig.cmake.in
               ${CMAKE_BINARY_DIR}/halographConfig.cmake @ONLY)
include(CMakePackageConfigHelpers)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/halographConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)

install(TARGETS halograph RUNTIME DESTINATION bin)
install(TARGETS halograph_shared LIBRARY DESTINATION lib)
install(TARGETS halograph_static ARCHIVE DESTINATION lib)
install(FILES ${CMAKE_SOURCE_DIR}/api/halograph.h DESTINATION include)
install(FILES ${CMAKE_BINARY_DIR}/halograph.pc ${CMAKE_BINARY_DIR}/halograph-static.pc DESTINATION lib/pkgconfig)
install(FILES ${CMAKE_BINARY_DIR}/halographConfig.cmake ${CMAKE_BINARY_DIR}/halographConfigVersion.cmake
        DESTINATION lib/cmake/halograph)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/python/halograph DESTINATION lib/python3/dist-packages
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
