# Finds every external library; a missing one stops configure naming the
# Debian package to install (tools/install-deps installs them all).
add_library(hg_deps INTERFACE)

function(hg_require found what pkg)
  if(NOT ${found})
    message(FATAL_ERROR "halograph: ${what} not found: install the Debian package '${pkg}' (tools/install-deps does)")
  endif()
endfunction()

# LLVM 19 (ORC LLJIT through the C API)
find_program(HG_LLVM_CONFIG NAMES llvm-config-19 HINTS /usr/lib/llvm-19/bin)
hg_require(HG_LLVM_CONFIG "llvm-config-19" llvm-19-dev)
execute_process(COMMAND ${HG_LLVM_CONFIG} --includedir OUTPUT_VARIABLE HG_LLVM_INC OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${HG_LLVM_CONFIG} --libdir OUTPUT_VARIABLE HG_LLVM_LIBDIR OUTPUT_STRIP_TRAILING_WHITESPACE)
find_library(HG_LLVM_LIB NAMES LLVM-19 LLVM HINTS ${HG_LLVM_LIBDIR} NO_DEFAULT_PATH)
hg_require(HG_LLVM_LIB "libLLVM-19" llvm-19-dev)
target_include_directories(hg_deps SYSTEM INTERFACE ${HG_LLVM_INC})
target_link_libraries(hg_deps INTERFACE ${HG_LLVM_LIB})

# oneDNN (v2 C API)
find_path(HG_DNNL_INC dnnl.h)
find_library(HG_DNNL_LIB dnnl)
hg_require(HG_DNNL_INC "oneDNN header dnnl.h" libdnnl-dev)
hg_require(HG_DNNL_LIB "oneDNN library" libdnnl-dev)
target_link_libraries(hg_deps INTERFACE ${HG_DNNL_LIB})

# HDF5 (serial)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HG_HDF5 hdf5)
hg_require(HG_HDF5_FOUND "HDF5" libhdf5-dev)
target_include_directories(hg_deps SYSTEM INTERFACE ${HG_HDF5_INCLUDE_DIRS})
target_link_directories(hg_deps INTERFACE ${HG_HDF5_LIBRARY_DIRS})
target_link_libraries(hg_deps INTERFACE ${HG_HDF5_LIBRARIES})

# libyaml (configs)
pkg_check_modules(HG_YAML yaml-0.1)
hg_require(HG_YAML_FOUND "libyaml" libyaml-dev)
target_link_libraries(hg_deps INTERFACE ${HG_YAML_LIBRARIES})

# protobuf-c + the ONNX C bindings generated from libonnx-dev's onnx.proto
pkg_check_modules(HG_PBC libprotobuf-c)
hg_require(HG_PBC_FOUND "protobuf-c" libprotobuf-c-dev)
find_program(HG_PROTOC_C protoc-c)
hg_require(HG_PROTOC_C "protoc-c" protobuf-c-compiler)
find_file(HG_ONNX_PROTO onnx.proto PATHS /usr/include/onnx NO_DEFAULT_PATH)
hg_require(HG_ONNX_PROTO "onnx.proto" libonnx-dev)
set(HG_GEN ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${HG_GEN}/onnx)
add_custom_command(
  OUTPUT ${HG_GEN}/onnx/onnx.pb-c.c ${HG_GEN}/onnx/onnx.pb-c.h
  COMMAND ${HG_PROTOC_C} --proto_path=/usr/include --c_out=${HG_GEN} ${HG_ONNX_PROTO}
  DEPENDS ${HG_ONNX_PROTO}
  COMMENT "Generating ONNX C bindings from ${HG_ONNX_PROTO}")
set(HG_ONNX_PB_C ${HG_GEN}/onnx/onnx.pb-c.c PARENT_SCOPE)
set(HG_ONNX_PB_C ${HG_GEN}/onnx/onnx.pb-c.c)
set_source_files_properties(${HG_GEN}/onnx/onnx.pb-c.c PROPERTIES COMPILE_OPTIONS "-w")
target_link_libraries(hg_deps INTERFACE ${HG_PBC_LIBRARIES})

# OpenMP (gcc's libgomp, shared with oneDNN)
find_package(OpenMP REQUIRED COMPONENTS C)
target_link_libraries(hg_deps INTERFACE OpenMP::OpenMP_C)
