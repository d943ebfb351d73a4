# Finds every external library; a missing one stops configure naming the
# Debian package to install (tools/install-deps installs them all).
# Included from the top-level CMakeLists.txt (same scope): it defines the
# interface target hg_deps and the variables HG_ONNX_PB_C / HG_ONNX_PB_H (the
# generated ONNX C bindings, compiled into hg_codegen).
add_library(hg_deps INTERFACE)

function(hg_require found what pkg)
  if(NOT ${found})
    message(FATAL_ERROR "halograph: ${what} not found: install the Debian package '${pkg}' (tools/install-deps does)")
  endif()
endfunction()

find_program(HG_PKG_CONFIG NAMES pkg-config)
hg_require(HG_PKG_CONFIG "pkg-config" pkg-config)
set(PKG_CONFIG_EXECUTABLE ${HG_PKG_CONFIG} CACHE FILEPATH "pkg-config")
find_package(PkgConfig REQUIRED QUIET)

# LLVM 19 (ORC LLJIT through the C API; one shared libLLVM-19)
find_program(HG_LLVM_CONFIG NAMES llvm-config-19 HINTS /usr/lib/llvm-19/bin)
hg_require(HG_LLVM_CONFIG "llvm-config-19" llvm-19-dev)
execute_process(COMMAND ${HG_LLVM_CONFIG} --includedir OUTPUT_VARIABLE HG_LLVM_INC OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${HG_LLVM_CONFIG} --libdir OUTPUT_VARIABLE HG_LLVM_LIBDIR OUTPUT_STRIP_TRAILING_WHITESPACE)
find_path(HG_LLVM_ORC_H llvm-c/LLJIT.h HINTS ${HG_LLVM_INC} NO_DEFAULT_PATH)
hg_require(HG_LLVM_ORC_H "LLVM C API header llvm-c/LLJIT.h" llvm-19-dev)
find_library(HG_LLVM_LIB NAMES LLVM-19 LLVM HINTS ${HG_LLVM_LIBDIR} NO_DEFAULT_PATH)
hg_require(HG_LLVM_LIB "libLLVM-19" llvm-19-dev)
target_include_directories(hg_deps SYSTEM INTERFACE ${HG_LLVM_INC})
target_link_libraries(hg_deps INTERFACE ${HG_LLVM_LIB})

# oneDNN (Debian's 2.6: the v2 C API)
find_path(HG_DNNL_INC dnnl.h)
find_library(HG_DNNL_LIB dnnl)
hg_require(HG_DNNL_INC "oneDNN header dnnl.h" libdnnl-dev)
hg_require(HG_DNNL_LIB "oneDNN library libdnnl" libdnnl-dev)
target_include_directories(hg_deps SYSTEM INTERFACE ${HG_DNNL_INC})
target_link_libraries(hg_deps INTERFACE ${HG_DNNL_LIB})

# HDF5 (serial; Debian's hdf5.pc points at the serial flavour)
pkg_check_modules(HG_HDF5 QUIET hdf5)
hg_require(HG_HDF5_FOUND "HDF5 (pkg-config hdf5)" libhdf5-dev)
target_include_directories(hg_deps SYSTEM INTERFACE ${HG_HDF5_INCLUDE_DIRS})
target_link_libraries(hg_deps INTERFACE ${HG_HDF5_LINK_LIBRARIES})

# libyaml (configs)
pkg_check_modules(HG_YAML QUIET yaml-0.1)
hg_require(HG_YAML_FOUND "libyaml (pkg-config yaml-0.1)" libyaml-dev)
target_include_directories(hg_deps SYSTEM INTERFACE ${HG_YAML_INCLUDE_DIRS})
target_link_libraries(hg_deps INTERFACE ${HG_YAML_LINK_LIBRARIES})

# protobuf-c + the ONNX C bindings generated from libonnx-dev's onnx.proto
pkg_check_modules(HG_PBC QUIET libprotobuf-c)
hg_require(HG_PBC_FOUND "protobuf-c (pkg-config libprotobuf-c)" libprotobuf-c-dev)
find_program(HG_PROTOC_C protoc-c)
hg_require(HG_PROTOC_C "protoc-c" protobuf-c-compiler)
find_file(HG_ONNX_PROTO onnx.proto PATHS /usr/include/onnx NO_DEFAULT_PATH)
hg_require(HG_ONNX_PROTO "onnx.proto" libonnx-dev)
target_include_directories(hg_deps SYSTEM INTERFACE ${HG_PBC_INCLUDE_DIRS})
target_link_libraries(hg_deps INTERFACE ${HG_PBC_LINK_LIBRARIES})

set(HG_GEN ${CMAKE_BINARY_DIR}/gen)
set(HG_ONNX_PB_C ${HG_GEN}/onnx/onnx.pb-c.c)
set(HG_ONNX_PB_H ${HG_GEN}/onnx/onnx.pb-c.h)
file(MAKE_DIRECTORY ${HG_GEN}/onnx)
add_custom_command(
  OUTPUT ${HG_ONNX_PB_C} ${HG_ONNX_PB_H}
  COMMAND ${HG_PROTOC_C} --proto_path=/usr/include --c_out=${HG_GEN} ${HG_ONNX_PROTO}
  DEPENDS ${HG_ONNX_PROTO}
  COMMENT "Generating ONNX C bindings from ${HG_ONNX_PROTO}")
# Generated code: not ours to warn about (and -Werror must not trip on it).
set_source_files_properties(${HG_ONNX_PB_C} PROPERTIES COMPILE_OPTIONS "-w")
# Both files are hg_codegen sources (CMakeLists.txt), so anything linking it
# is built after the generator has run.

# OpenMP (gcc's libgomp, shared with oneDNN)
find_package(OpenMP QUIET COMPONENTS C)
hg_require(OpenMP_C_FOUND "OpenMP for C (libgomp)" build-essential)
target_link_libraries(hg_deps INTERFACE OpenMP::OpenMP_C)

# MPI (optional; Debian openmpi-bin + libopenmpi-dev): data-parallel train,
# sample, likelihood and nelbo under mpirun (runtime/comm.h). Auto-detected:
# without it the build is unchanged and every command runs as one process.
option(HG_MPI "Use MPI when found (data-parallel runs under mpirun)" ON)
if(HG_MPI)
  find_package(MPI QUIET COMPONENTS C)
endif()
if(HG_MPI AND MPI_C_FOUND)
  target_link_libraries(hg_deps INTERFACE MPI::MPI_C)
  target_compile_definitions(hg_deps INTERFACE HG_HAVE_MPI=1)
  message(STATUS "halograph: MPI ${MPI_C_VERSION} (${MPIEXEC_EXECUTABLE}): data-parallel runs enabled")
else()
  message(STATUS "halograph: MPI not used (install openmpi-bin libopenmpi-dev for data-parallel runs)")
endif()
